//! Exact decimal arithmetic for sprig's `addf`/`subf`/`mulf`/`divf`, which
//! use shopspring/decimal: each float64 is converted to its shortest decimal
//! form, combined exactly (division rounded half away from zero to 16
//! decimal places) and converted back to the nearest float64. When the exact
//! value does not fit 128 bits the float64 operation is used instead.

use super::{Value, to_float64};

/// The four operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy)]
struct Dec {
    mant: i128,
    exp: i32,
}

fn from_f64(f: f64) -> Result<Dec, String> {
    if !f.is_finite() {
        return Err(format!("Cannot create a Decimal from {f}"));
    }
    let s = format!("{f:e}");
    let (m, e) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let e: i32 = e.parse().map_err(|_| "bad float".to_string())?;
    let frac_len = m.split_once('.').map_or(0, |(_, fr)| fr.len()) as i32;
    let digits: String = m.chars().filter(|c| *c != '.').collect();
    let mant: i128 = digits.parse().map_err(|_| "bad float".to_string())?;
    Ok(Dec {
        mant,
        exp: e - frac_len,
    })
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

fn align(a: Dec, b: Dec) -> Option<(i128, i128, i32)> {
    let exp = a.exp.min(b.exp);
    let am = a.mant.checked_mul(pow10((a.exp - exp) as u32)?)?;
    let bm = b.mant.checked_mul(pow10((b.exp - exp) as u32)?)?;
    Some((am, bm, exp))
}

fn div_round(n: i128, d: i128) -> Option<i128> {
    let q = n.checked_div(d)?;
    let r = n.checked_rem(d)?;
    // Round half away from zero.
    if r.unsigned_abs().checked_mul(2)? >= d.unsigned_abs() {
        Some(if (n < 0) != (d < 0) { q - 1 } else { q + 1 })
    } else {
        Some(q)
    }
}

fn apply(a: Dec, b: Dec, op: Op) -> Option<Dec> {
    match op {
        Op::Add | Op::Sub => {
            let (am, bm, exp) = align(a, b)?;
            let mant = if op == Op::Add {
                am.checked_add(bm)?
            } else {
                am.checked_sub(bm)?
            };
            Some(Dec { mant, exp })
        }
        Op::Mul => Some(Dec {
            mant: a.mant.checked_mul(b.mant)?,
            exp: a.exp.checked_add(b.exp)?,
        }),
        Op::Div => {
            // result = a.mant * 10^(a.exp - b.exp + 16) / b.mant, scaled 10^-16.
            let shift = a.exp - b.exp + 16;
            let mant = if shift >= 0 {
                div_round(a.mant.checked_mul(pow10(shift as u32)?)?, b.mant)?
            } else {
                div_round(a.mant, b.mant.checked_mul(pow10(shift.unsigned_abs())?)?)?
            };
            Some(Dec { mant, exp: -16 })
        }
    }
}

fn to_f64(d: Dec) -> f64 {
    format!("{}e{}", d.mant, d.exp).parse().unwrap_or(f64::NAN)
}

fn float_op(a: f64, b: f64, op: Op) -> f64 {
    match op {
        Op::Add => a + b,
        Op::Sub => a - b,
        Op::Mul => a * b,
        Op::Div => a / b,
    }
}

/// Folds `rest` into `first` with `op`, like sprig's `execDecimalOp`.
pub(super) fn op(first: f64, rest: &[Value], op: Op) -> Result<f64, String> {
    let mut acc = from_f64(first)?;
    let mut acc_f = first;
    let mut exact = true;
    for v in rest {
        let x = to_float64(v);
        let d = from_f64(x)?;
        if op == Op::Div && d.mant == 0 {
            return Err("decimal division by 0".into());
        }
        acc_f = if exact {
            float_op(to_f64(acc), x, op)
        } else {
            float_op(acc_f, x, op)
        };
        if exact {
            match apply(acc, d, op) {
                Some(r) => acc = r,
                None => exact = false,
            }
        }
    }
    Ok(if exact { to_f64(acc) } else { acc_f })
}
