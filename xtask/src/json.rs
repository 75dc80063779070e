//! Gradescope's `results.json`, written by hand (a few strings and numbers), and, for the tests,
//! a small parser that checks what was written.

/// One graded test's result, as Gradescope shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TestResult {
    /// The test's name as students see it (`<lab>: <test>`).
    pub name: String,
    /// Points earned.
    pub score: u32,
    /// Points possible.
    pub max_score: u32,
    /// Passed or not.
    pub passed: bool,
    /// The test's output (or why it did not run).
    pub output: String,
}

/// `text` as a JSON string literal, quotes included.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Gradescope's results.json: `{"score": X, "tests": [{"name", "score", "max_score", "status",
/// "output"}, ...]}`, status being `"passed"` or `"failed"`.
pub fn results(tests: &[TestResult]) -> String {
    let score: u32 = tests.iter().map(|t| t.score).sum();
    let mut out = format!("{{\n  \"score\": {score},\n  \"tests\": [");
    for (index, test) in tests.iter().enumerate() {
        out.push_str(if index == 0 { "\n" } else { ",\n" });
        out.push_str(&format!(
            "    {{\"name\": {}, \"score\": {}, \"max_score\": {}, \"status\": {}, \"output\": {}}}",
            string(&test.name),
            test.score,
            test.max_score,
            string(if test.passed { "passed" } else { "failed" }),
            string(&test.output)
        ));
    }
    out.push_str(if tests.is_empty() {
        "]\n}\n"
    } else {
        "\n  ]\n}\n"
    });
    out
}

/// A parsed JSON value (tests only).
#[cfg(test)]
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    Str(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

#[cfg(test)]
impl Value {
    /// The value of `key` in an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The keys of an object, in order.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Value::Object(fields) => fields.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

/// Parses a whole JSON document, strictly (RFC 8259), or says where it is wrong.
#[cfg(test)]
pub fn parse(text: &str) -> Result<Value, String> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    let value = parser.value()?;
    parser.blank();
    if parser.at != parser.bytes.len() {
        return Err(format!("trailing text at byte {}", parser.at));
    }
    Ok(value)
}

#[cfg(test)]
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

#[cfg(test)]
impl Parser<'_> {
    fn blank(&mut self) {
        while self.at < self.bytes.len() && b" \t\r\n".contains(&self.bytes[self.at]) {
            self.at += 1;
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.at))
    }

    fn eat(&mut self, literal: &str) -> bool {
        if self.bytes[self.at..].starts_with(literal.as_bytes()) {
            self.at += literal.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.blank();
        match self.bytes.get(self.at) {
            None => self.fail("unexpected end"),
            Some(b'{') => {
                self.at += 1;
                let mut fields = Vec::new();
                self.blank();
                if self.eat("}") {
                    return Ok(Value::Object(fields));
                }
                loop {
                    self.blank();
                    let key = self.string()?;
                    self.blank();
                    if !self.eat(":") {
                        return self.fail("expected ':'");
                    }
                    fields.push((key, self.value()?));
                    self.blank();
                    if self.eat("}") {
                        return Ok(Value::Object(fields));
                    }
                    if !self.eat(",") {
                        return self.fail("expected ',' or '}'");
                    }
                }
            }
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.blank();
                if self.eat("]") {
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    self.blank();
                    if self.eat("]") {
                        return Ok(Value::Array(items));
                    }
                    if !self.eat(",") {
                        return self.fail("expected ',' or ']'");
                    }
                }
            }
            Some(b'"') => self.string().map(Value::Str),
            Some(_) if self.eat("true") => Ok(Value::Bool(true)),
            Some(_) if self.eat("false") => Ok(Value::Bool(false)),
            Some(_) if self.eat("null") => Ok(Value::Null),
            Some(_) => {
                let start = self.at;
                while self.at < self.bytes.len()
                    && b"+-.eE0123456789".contains(&self.bytes[self.at])
                {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or("");
                let leading_zero = text.trim_start_matches('-').starts_with("0")
                    && text.trim_start_matches('-').len() > 1
                    && !text.trim_start_matches('-')[1..].starts_with(['.', 'e', 'E']);
                match text.parse::<f64>() {
                    Ok(n) if !text.starts_with('+') && !leading_zero && !text.is_empty() => {
                        Ok(Value::Number(n))
                    }
                    _ => {
                        self.at = start;
                        self.fail("expected a value")
                    }
                }
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if !self.eat("\"") {
            return self.fail("expected a string");
        }
        let mut out = String::new();
        loop {
            let Some(&byte) = self.bytes.get(self.at) else {
                return self.fail("unterminated string");
            };
            match byte {
                b'"' => {
                    self.at += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let Some(&escape) = self.bytes.get(self.at + 1) else {
                        return self.fail("unterminated escape");
                    };
                    self.at += 2;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hex = self.bytes.get(self.at..self.at + 4).unwrap_or(b"");
                            let code = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u32::from_str_radix(h, 16).ok());
                            let Some(c) = code.and_then(char::from_u32) else {
                                return self.fail("bad \\u escape");
                            };
                            out.push(c);
                            self.at += 4;
                        }
                        _ => return self.fail("bad escape"),
                    }
                }
                0..0x20 => return self.fail("control character in a string"),
                _ => {
                    let c = self.text[self.at..].chars().next().unwrap_or('\u{fffd}');
                    out.push(c);
                    self.at += c.len_utf8();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<TestResult> {
        vec![
            TestResult {
                name: "pipe: output".into(),
                score: 10,
                max_score: 10,
                passed: true,
                output: "ok".into(),
            },
            TestResult {
                name: "fifo: \"quoted\" \\ back".into(),
                score: 0,
                max_score: 5,
                passed: false,
                output: "line 1\nline 2\ttab\r\u{1}\u{7f} é ✓".into(),
            },
        ]
    }

    #[test]
    fn strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(string("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
        assert_eq!(string("é"), "\"é\"");
    }

    #[test]
    fn results_use_gradescope_field_names() {
        let doc = parse(&results(&sample())).unwrap();
        assert_eq!(doc.keys(), ["score", "tests"]);
        assert_eq!(doc.get("score"), Some(&Value::Number(10.0)));
        let Some(Value::Array(tests)) = doc.get("tests") else {
            panic!("no tests array");
        };
        assert_eq!(tests.len(), 2);
        for test in tests {
            assert_eq!(
                test.keys(),
                ["name", "score", "max_score", "status", "output"]
            );
        }
        assert_eq!(tests[0].get("status"), Some(&Value::Str("passed".into())));
        assert_eq!(tests[1].get("status"), Some(&Value::Str("failed".into())));
        assert_eq!(tests[1].get("max_score"), Some(&Value::Number(5.0)));
    }

    #[test]
    fn escaped_text_comes_back_unchanged() {
        let doc = parse(&results(&sample())).unwrap();
        let Some(Value::Array(tests)) = doc.get("tests") else {
            panic!("no tests array");
        };
        assert_eq!(
            tests[1].get("name"),
            Some(&Value::Str(sample()[1].name.clone()))
        );
        assert_eq!(
            tests[1].get("output"),
            Some(&Value::Str(sample()[1].output.clone()))
        );
    }

    #[test]
    fn no_tests_is_still_valid() {
        let doc = parse(&results(&[])).unwrap();
        assert_eq!(doc.get("tests"), Some(&Value::Array(Vec::new())));
    }

    #[test]
    fn the_parser_rejects_broken_json() {
        for broken in [
            "{",
            "{\"a\" 1}",
            "[1,]",
            "\"a\nb\"",
            "01",
            "{\"a\":1} x",
            "'a'",
        ] {
            assert!(parse(broken).is_err(), "{broken:?} parsed");
        }
    }
}
