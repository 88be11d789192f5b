//! The jq language, through jaq, compiled once and never allowed to end the process.
//!
//! Two shapes are offered:
//!
//! * [`JqProgram`]: one filter, such as `--jq`.
//! * [`JqBundle`]: many small expressions (every check of a gates file) compiled as *one*
//!   program. Compiling jaq's standard library costs about 0.3 ms; doing it once per file
//!   instead of once per expression keeps a small gate run well under 5 ms. Each expression
//!   is first syntax-checked on its own, so an error names the expression it came from and a
//!   crafted expression cannot escape its slot in the bundle.
//!
//! `now` is redefined to return the injected clock (`$__now`, seconds since the epoch), so
//! filters are reproducible under `--now`. `halt` and `halt_error` become ordinary errors:
//! `jaq_core::unwrap_valr` would call `std::process::exit`.
//!
//! Values cross between serde_json and jaq through `Val::deserialize` and jaq's JSON
//! `Display`, which keeps key order and number literals.

use jaq_core::load::{Arena, File, Lexer, Loader, Parser, lex::Token, parse::Term};
use jaq_core::{Compiler, Ctx, Vars, data};
use jaq_json::Val;
use serde::Deserialize as _;
use serde_json::Value;

use crate::error::CoreError;

type Filter = jaq_core::Filter<data::JustLut<Val>>;

/// Name of the variable that carries the injected clock.
const NOW_VAR: &str = "$__now";
/// Name of the variable that selects an expression inside a bundle.
const INDEX_VAR: &str = "$__i";

/// A compiled jq filter with named global variables (`$name`, like `jq --arg`).
pub struct JqProgram {
    filter: Filter,
    now: Val,
}

/// Convert a JSON value into a jaq value.
pub fn to_val(v: &Value) -> Val {
    // Every serde_json value is representable; the error branch is unreachable in practice.
    Val::deserialize(v).unwrap_or(Val::Null)
}

/// Convert a jaq value back into JSON; non-finite numbers (jaq's `1/0`) are refused.
pub fn from_val(v: &Val) -> Result<Value, String> {
    let text = v.to_string();
    serde_json::from_str(&text).map_err(|_| format!("result is not valid JSON: {text}"))
}

/// Check that `code` is one complete jq term; describe the first error with its position.
pub fn syntax_check(code: &str) -> Result<(), String> {
    let position = |part: &str| {
        let offset = (part.as_ptr() as usize).saturating_sub(code.as_ptr() as usize);
        let before = &code[..offset.min(code.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("line {line}, column {col}")
    };
    let tokens = Lexer::new(code).lex().map_err(|errs| match errs.first() {
        Some((expect, rest)) => format!("expected {} at {}", expect.as_str(), position(rest)),
        None => "lexical error".to_string(),
    })?;
    Parser::new(&tokens)
        .parse(|p| p.term())
        .map(|_: Term<&str>| ())
        .map_err(|errs| match errs.first() {
            Some((expect, found)) => {
                let found_text = Token::opt_as_str(*found, code);
                let what = if found_text.is_empty() {
                    "end of input".to_string()
                } else {
                    format!("{:?}", found_text.chars().take(20).collect::<String>())
                };
                format!(
                    "expected {}, found {what} at {}",
                    expect.as_str(),
                    position(found_text)
                )
            }
            None => "syntax error".to_string(),
        })
}

fn compile_text(code: &str, globals: &[String]) -> Result<Filter, String> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    // A gates file is untrusted input (a pull request can change it): no filter may read
    // the environment, where CI keeps its tokens. (`debug` and `stderr` log through the
    // `log` crate, and no tool installs a logger: they print nothing.)
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .filter(|(name, ..)| !SANDBOXED.contains(name));
    let arena = Arena::default();
    let modules = Loader::new(defs)
        .load(&arena, File { code, path: () })
        .map_err(|errs| {
            // Syntax was checked per expression before; this is a last resort.
            format!("cannot parse program ({} error(s))", errs.len())
        })?;
    Compiler::default()
        .with_funs(funs)
        .with_global_vars(globals.iter().map(String::as_str))
        .compile(modules)
        .map_err(|errs| {
            let mut names: Vec<String> = errs
                .iter()
                .flat_map(|(_, es)| es.iter())
                .map(|(name, undefined)| format!("undefined {} {name}", undefined.as_str()))
                .collect();
            names.dedup();
            names.join("; ")
        })
}

fn globals_with(vars: &[&str], extra: &[&str]) -> Vec<String> {
    extra
        .iter()
        .map(|s| s.to_string())
        .chain(vars.iter().map(|n| format!("${n}")))
        .collect()
}

/// Natives a filter never gets: `env`, the process environment (with CI's secrets).
const SANDBOXED: [&str; 1] = ["env"];

/// The prelude every program gets: `now` reads the injected clock.
const PRELUDE: &str = "def now: $__now;\n";

impl JqProgram {
    /// Compile `code` with the global variables `vars` (names without `$`).
    ///
    /// `context` names the program in error messages (`--jq`, `gate "x" check "y"`).
    pub fn compile(code: &str, vars: &[&str], context: &str) -> Result<Self, CoreError> {
        let err = |message: String| CoreError::JqCompile {
            context: context.to_string(),
            message,
        };
        syntax_check(code).map_err(err)?;
        let text = format!("{PRELUDE}(\n{code}\n)");
        let filter = compile_text(&text, &globals_with(vars, &[NOW_VAR])).map_err(err)?;
        Ok(JqProgram {
            filter,
            now: Val::Null,
        })
    }

    /// Set the clock `now` returns (seconds since the epoch).
    pub fn with_now(mut self, epoch_seconds: f64) -> Self {
        self.now = to_val(&serde_json::json!(epoch_seconds));
        self
    }

    /// Run over `input` with the values of the declared variables, in declaration order.
    pub fn run(&self, input: &Value, vars: &[Value]) -> Result<Vec<Value>, String> {
        let vals: Vec<Val> = std::iter::once(self.now.clone())
            .chain(vars.iter().map(to_val))
            .collect();
        run_filter(&self.filter, to_val(input), vals)
            .into_iter()
            .map(|r| r.and_then(|v| from_val(&v)))
            .collect()
    }
}

/// Run a filter and collect every output; exceptions become error strings.
fn run_filter(filter: &Filter, input: Val, vars: Vec<Val>) -> Vec<Result<Val, String>> {
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new(vars));
    filter
        .id
        .run((ctx, input))
        .map(|r| {
            r.map_err(|exn| match exn.get_err() {
                Ok(err) => err.to_string(),
                Err(exn) => match exn.get_halt() {
                    Ok(code) => format!("halted with exit code {code}"),
                    Err(other) => format!("internal exception: {other:?}"),
                },
            })
        })
        .collect()
}

/// Many expressions compiled as one program; each is run by its index.
pub struct JqBundle {
    filter: Filter,
    len: usize,
    now: Val,
}

/// Where each expression of a bundle came from, for error messages.
pub struct BundleEntry<'a> {
    /// The jq text.
    pub code: &'a str,
    /// Its origin, such as `gate "governance" check "promotion_x" (assert)`.
    pub context: String,
}

/// Compile every entry; a syntax error names the entry's context.
impl JqBundle {
    /// Compile `entries` with the global variables `vars` (names without `$`).
    pub fn compile(entries: &[BundleEntry<'_>], vars: &[&str]) -> Result<Self, CoreError> {
        for entry in entries {
            syntax_check(entry.code).map_err(|message| CoreError::JqCompile {
                context: entry.context.clone(),
                message,
            })?;
        }
        let mut text = String::from(PRELUDE);
        for (i, entry) in entries.iter().enumerate() {
            text.push_str(&format!("def __e{i}: (\n{}\n);\n", entry.code));
        }
        text.push_str(&format!("{INDEX_VAR} as $__k | "));
        if entries.is_empty() {
            text.push_str("empty");
        } else {
            // A balanced if-tree keeps dispatch logarithmic in the number of expressions.
            text.push_str(&dispatch(0, entries.len()));
        }
        let globals = globals_with(vars, &[NOW_VAR, INDEX_VAR]);
        match compile_text(&text, &globals) {
            Ok(filter) => Ok(JqBundle {
                filter,
                len: entries.len(),
                now: Val::Null,
            }),
            Err(_) => {
                // Find the entry at fault by compiling each one alone (only on error).
                for entry in entries {
                    JqProgram::compile(entry.code, vars, &entry.context)?;
                }
                Err(CoreError::JqCompile {
                    context: "gates file".into(),
                    message: "the expressions do not compile together".into(),
                })
            }
        }
    }

    /// Set the clock `now` returns (seconds since the epoch).
    pub fn with_now(mut self, epoch_seconds: f64) -> Self {
        self.now = to_val(&serde_json::json!(epoch_seconds));
        self
    }

    /// Number of expressions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the bundle holds no expression.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Run expression `index` over `input` with the declared variables' values.
    pub fn run(&self, index: usize, input: &Val, vars: &[Val]) -> Vec<Result<Val, String>> {
        assert!(index < self.len, "bundle index out of range");
        let all: Vec<Val> = [self.now.clone(), to_val(&serde_json::json!(index))]
            .into_iter()
            .chain(vars.iter().cloned())
            .collect();
        run_filter(&self.filter, input.clone(), all)
    }
}

fn dispatch(lo: usize, hi: usize) -> String {
    if hi - lo == 1 {
        return format!("__e{lo}");
    }
    let mid = lo + (hi - lo) / 2;
    format!(
        "(if $__k < {mid} then {} else {} end)",
        dispatch(lo, mid),
        dispatch(mid, hi)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn program_runs_with_vars_and_keeps_order_and_numbers() {
        let p = JqProgram::compile(".z = $tag", &["tag"], "--jq").unwrap();
        let out = p
            .run(&json!({"z": 1, "a": 100000000000u64}), &[json!("v2")])
            .unwrap();
        assert_eq!(
            serde_json::to_string(&out[0]).unwrap(),
            r#"{"z":"v2","a":100000000000}"#
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = JqProgram::compile(".a |", &[], "--jq").err().unwrap();
        assert!(e.to_string().starts_with("--jq: jq error: expected"), "{e}");
        let e = JqProgram::compile("nosuchfn(1)", &[], "--jq")
            .err()
            .unwrap();
        assert!(e.to_string().contains("undefined"), "{e}");
    }

    #[test]
    fn halt_does_not_exit_the_process() {
        let p = JqProgram::compile("halt_error", &[], "x").unwrap();
        assert!(p.run(&json!("bye"), &[]).is_err());
    }

    #[test]
    fn now_is_the_injected_clock_and_comments_stay_inside() {
        let p = JqProgram::compile("now # the clock", &[], "x")
            .unwrap()
            .with_now(42.0);
        assert_eq!(p.run(&json!(null), &[]).unwrap(), vec![json!(42.0)]);
    }

    #[test]
    fn bundle_dispatches_and_attributes_errors() {
        let entries: Vec<BundleEntry> = ["1", ".a", "$x + 1", "[.[]?]"]
            .iter()
            .map(|c| BundleEntry {
                code: c,
                context: format!("expr {c}"),
            })
            .collect();
        let b = JqBundle::compile(&entries, &["x"]).unwrap();
        let input = to_val(&json!({"a": 7}));
        let x = [to_val(&json!(2))];
        let one = |i| from_val(b.run(i, &input, &x)[0].as_ref().unwrap()).unwrap();
        assert_eq!(one(0), json!(1));
        assert_eq!(one(1), json!(7));
        assert_eq!(one(2), json!(3));
        assert_eq!(one(3), json!([7]));

        let bad = [
            BundleEntry {
                code: "1",
                context: "ok".into(),
            },
            BundleEntry {
                code: "1); def x: (2",
                context: "gate g check c".into(),
            },
        ];
        let e = JqBundle::compile(&bad, &[]).err().unwrap();
        assert!(
            e.to_string().starts_with("gate g check c: jq error:"),
            "{e}"
        );
        let undefined = [BundleEntry {
            code: "nope",
            context: "gate g check d".into(),
        }];
        let e = JqBundle::compile(&undefined, &[]).err().unwrap();
        assert!(e.to_string().contains("gate g check d"), "{e}");
    }
}
