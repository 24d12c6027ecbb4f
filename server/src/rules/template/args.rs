//! Reading the arguments of a template function call, shared by the Go builtins
//! (`funcs.rs`) and the Prometheus functions (`prom.rs`).

use super::Value;
use super::gofmt::go_type;

static NIL: Value = Value::Nil;

/// The `i`th argument (arity is checked before calls).
pub(super) fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&NIL)
}

/// The `i`th argument, which must be a string.
pub(super) fn str_arg(args: &[Value], i: usize) -> Result<&str, String> {
    match arg(args, i) {
        Value::Str(s) => Ok(s),
        v => Err(format!(
            "wrong type for value; expected string; got {}",
            go_type(v)
        )),
    }
}
