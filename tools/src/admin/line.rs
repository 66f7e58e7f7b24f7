//! Command lines as NVFlare 2.6.3's console reads them
//! (`nvflare.fuel.hci.cmd_arg_utils`): quotes group words (`shlex`), and
//! the text after `#` is the command's props when the line has no `"`.

/// A command line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The line as it is sent to the server: without its props, runs of
    /// spaces made one (lines with a `"` are sent as typed).
    pub line: String,
    /// The arguments, the command's name first.
    pub args: Vec<String>,
    /// The text after `#`, sent as the request's `cmd_props` (as typed,
    /// leading space included).
    pub props: Option<String>,
}

/// Parses a line as NVFlare's `parse_command_line` does: with a `"` the
/// line is split as a POSIX shell would (`shlex.split`), and has no props;
/// without, the props are what follows the first `#`, and the rest is split
/// on spaces. An unclosed quote is an error.
pub fn parse(line: &str) -> Result<CommandLine, String> {
    if line.contains('"') {
        return Ok(CommandLine {
            line: line.to_owned(),
            args: shlex_split(line)?,
            props: None,
        });
    }
    let (line, props) = match line.split_once('#') {
        Some((l, p)) => (l.trim(), Some(p.to_owned())),
        None => (line, None),
    };
    let line = collapse_spaces(line);
    let args = line.split(' ').map(str::to_owned).collect();
    Ok(CommandLine { line, args, props })
}

/// `re.sub(" +", " ", line)`.
fn collapse_spaces(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut last_space = false;
    for c in line.chars() {
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
    }
    out
}

/// Splits as Python's `shlex.split` (POSIX mode, no comments): whitespace
/// separates words; `'…'` is literal; in `"…"` a backslash escapes only
/// `"` and `\`; outside quotes it escapes any character.
pub fn shlex_split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("no closing quotation in {line:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("no closing quotation in {line:?}")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("no closing quotation in {line:?}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(format!("no escaped character in {line:?}")),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Joins arguments (as a shell handed them over) into a line that
/// [`parse`] splits back into the same arguments: an argument with
/// whitespace or a quote is double-quoted, `"` and `\` escaped inside.
pub fn join(args: &[String]) -> String {
    let quoted = |a: &String| {
        let needs = a.is_empty()
            || a.chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\');
        if needs {
            let mut q = String::from('"');
            for c in a.chars() {
                if c == '"' || c == '\\' {
                    q.push('\\');
                }
                q.push(c);
            }
            q.push('"');
            q
        } else {
            a.clone()
        }
    };
    args.iter().map(quoted).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn quotes_group_words_as_shlex_does() {
        let got = parse(r#"grep site-1 "client name" readme.txt"#).unwrap();
        assert_eq!(
            got.args,
            args(&["grep", "site-1", "client name", "readme.txt"])
        );
        assert_eq!(got.line, r#"grep site-1 "client name" readme.txt"#);
        assert_eq!(got.props, None);
        assert_eq!(
            shlex_split(r#"a 'b "c' "d \"e\" \n" f\ g"#).unwrap(),
            args(&["a", r#"b "c"#, r#"d "e" \n"#, "f g"])
        );
        assert!(shlex_split(r#"a "b"#).unwrap_err().contains("no closing"));
    }

    #[test]
    fn props_follow_the_hash_without_quotes() {
        let got = parse("app_command  abc   echo # DATA x").unwrap();
        assert_eq!(got.line, "app_command abc echo");
        assert_eq!(got.args, args(&["app_command", "abc", "echo"]));
        assert_eq!(got.props.as_deref(), Some(" DATA x"));
        // With a quote, `#` is an argument like any other.
        let got = parse(r#"cmd "a b" # c"#).unwrap();
        assert_eq!(got.args, args(&["cmd", "a b", "#", "c"]));
        assert_eq!(got.props, None);
    }

    #[test]
    fn joined_arguments_split_back() {
        let original = args(&["grep", "site-1", "client name", r#"q"uo\te"#, "", "plain"]);
        let line = join(&original);
        assert_eq!(parse(&line).unwrap().args, original);
        assert_eq!(join(&args(&["list_jobs", "-n", "2"])), "list_jobs -n 2");
    }
}
