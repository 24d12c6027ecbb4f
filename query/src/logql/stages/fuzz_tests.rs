//! Robustness check: random inputs built from syntax-heavy alphabets must
//! never panic in any stage (deterministic LCG, no external crates).

use super::drain::{Drain, DrainConfig};
use super::pattern::Pattern;
use super::regexp::RegexpParser;
use super::template::{Template, TemplateCtx};
use super::{decolorize, detect, json, logfmt, units};

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn string(&mut self, alphabet: &[&str], max: usize) -> String {
        let len = (self.next() as usize) % max;
        (0..len)
            .map(|_| alphabet[(self.next() as usize) % alphabet.len()])
            .collect()
    }
}

const JSONISH: &[&str] = &[
    "{", "}", "[", "]", "\"", ":", ",", "\\", "\\u", "d83d", "a", "1", "-", ".", "e", "true",
    "null", " ", "_entry", "é", "\u{FFFD}",
];
const LOGFMTISH: &[&str] = &[
    "a", "=", "\"", "\\", " ", "\t", "x", "1", "\u{FFFD}", "é", "\\u00", "level", "n",
];
const TMPLISH: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    " -}}",
    " ",
    ".",
    "a",
    "|",
    "(",
    ")",
    "\"",
    "`",
    "'",
    "$",
    "x",
    ":=",
    "=",
    "if",
    "else",
    "end",
    "with",
    "printf",
    "\"%d %s %v %5.2f %*d\"",
    "add",
    "1",
    "-2",
    "3.5",
    "0x1p2",
    "upper",
    "nil",
    "true",
    "/*",
    "*/",
    "trunc",
    "date",
    "\"2006-01-02\"",
    "now",
    "default",
    "index",
    "len",
    "and",
    "or",
    "eq",
    "lt",
    "round",
    "divf",
    "repeat",
];
const PATTERNISH: &[&str] = &[
    "<", ">", "_", "a", "<_>", "<a>", "<b>", " ", "x", "é", "<1>",
];

#[test]
fn random_inputs_never_panic() {
    let mut rng = Lcg(42);
    let labels = vec![
        ("a".to_string(), "1".to_string()),
        ("level".to_string(), "warn".to_string()),
    ];
    let mut drain = Drain::new(DrainConfig {
        max_clusters: 20,
        ..DrainConfig::default()
    });
    for i in 0..3000 {
        let j = rng.string(JSONISH, 40);
        let _ = json::extract_all(&j);
        let _ = json::unpack(&j);
        let _ = json::extract_paths(
            &j,
            &[
                ("x".into(), "a[0].b".into()),
                ("y".into(), "[\"_entry\"]".into()),
            ],
        );
        let _ = json::parse_path(&rng.string(&["a", ".", "[", "]", "\"", "0", "1.5", " "], 12));
        let l = rng.string(LOGFMTISH, 40);
        let _ = logfmt::parse(&l, i % 2 == 0, i % 3 == 0);
        let _ = logfmt::parse_selected(&l, &[("x".into(), "a".into())], i % 2 == 0);
        let _ = detect::detect_level(&l, &[], &[]);
        let _ = detect::detect_level(&j, &[], &[]);
        let _ = detect::field_type(&l);
        let _ = units::parse_bytes(&l);
        let _ = units::parse_duration_seconds(
            &rng.string(&["1", ".", "h", "m", "s", "µ", "-", "9"], 25),
        );
        let _ = decolorize::decolorize(
            &rng.string(&["\u{1b}", "[", "3", "1", "m", ";", "\u{7}", "x", "]"], 20),
        );
        let p = rng.string(PATTERNISH, 12);
        if let Ok(pat) = Pattern::parse(&p) {
            let _ = pat.matches(&l);
            let _ = pat.is_match(&l);
        }
        if let Ok(pat) = Pattern::parse_line_filter(&p) {
            let _ = pat.is_match(&l);
        }
        if let Ok(re) = RegexpParser::new(&rng.string(
            &[
                "(", ")", "?P<a>", "\\d", "\\b", "[", "]", "x", "*", "\\Q", "\\E", "|",
            ],
            10,
        )) {
            let _ = re.extract(&l);
        }
        let src = rng.string(TMPLISH, 14);
        if let Ok(t) = Template::parse(&src) {
            let _ = t.render(&TemplateCtx {
                labels: &labels,
                line: &l,
                ts_ns: i as i64 * 1_000_000_007,
            });
            let _ = t.required_labels();
        }
        drain.train(&format!("{l} {j} {i}"), i as i64);
    }
    assert!(drain.clusters().len() <= 20);
}
