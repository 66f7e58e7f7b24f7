//! A reply's items for a person: strings as lines, tables as aligned
//! columns.

use serde_json::Value;

/// The text of a reply's items, one line per string, a table's columns
/// aligned on their widest cell.
pub fn render(items: &[Value]) -> String {
    let mut out = String::new();
    for item in items {
        match item["type"].as_str() {
            Some("table") => {
                let rows: Vec<Vec<String>> = item["rows"]
                    .as_array()
                    .map(|rows| {
                        rows.iter()
                            .map(|row| {
                                row.as_array()
                                    .map_or(Vec::new(), |cells| cells.iter().map(cell).collect())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push_str(&table(&rows));
            }
            Some("token") => {}
            Some("dict") => {
                out.push_str(&item["data"].to_string());
                out.push('\n');
            }
            _ => {
                out.push_str(&cell(&item["data"]));
                out.push('\n');
            }
        }
    }
    out
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Rows as columns padded to their widest cell (counted in characters),
/// two spaces apart, no trailing spaces.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, text) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            line.push_str(text);
            if c + 1 < row.len() {
                line.push_str(&" ".repeat(widths[c] - text.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_are_aligned_and_strings_are_lines() {
        let items = [
            json!({"type": "string", "data": "Engine status: stopped"}),
            json!({"type": "table", "rows": [["JOB ID", "NAME", "STATUS"], ["1234", "hello-ünï", "SUBMITTED"], ["5", "x", null]]}),
            json!({"type": "token", "data": "secret"}),
            json!({"type": "success", "data": ""}),
        ];
        assert_eq!(
            render(&items),
            "Engine status: stopped\n\
             JOB ID  NAME       STATUS\n\
             1234    hello-ünï  SUBMITTED\n\
             5       x\n\
             \n"
        );
    }
}
