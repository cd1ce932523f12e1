//! File names: the one a file is stored and served under (no path, no control, format or
//! bidi characters, an extension that matches its type), the original written out for
//! people to read, and the `Content-Disposition` of a download.

use super::kind::Accepted;

/// The longest stored name, in characters.
const MAX_NAME: usize = 200;
/// The longest original name kept, in characters.
const MAX_ORIGINAL: usize = 1000;

/// Characters that change how text around them is shown, or are not shown at all: bidi
/// embeddings, overrides, isolates and marks, zero-width characters, the soft hyphen.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
        | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}'
        | '\u{ffa0}' | '\u{fff0}'..='\u{fff8}' | '\u{e0000}'..='\u{e0fff}')
}

/// The name a file is stored and served under, from the name the browser sent: its last
/// path segment (old browsers send a whole Windows path), without control or invisible
/// characters, without characters Windows refuses in names, not hidden (no leading dot), at
/// most 200 characters, and ending in an extension of its type.
pub fn sanitise(sent: &str, kind: &Accepted) -> String {
    let last = sent.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_invisible(*c))
        .map(|c| match c {
            ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_whitespace() => ' ',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let trimmed = trimmed.trim_end_matches(['.', ' ']);
    let (stem, extension) = match trimmed.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, Some(ext)),
        _ => (trimmed, None),
    };
    let extension = match extension {
        Some(ext) if kind.extensions.contains(&ext.to_lowercase().as_str()) => ext.to_string(),
        // The type decides: "invoice.exe" that is a PDF is "invoice.exe.pdf".
        Some(ext) => format!("{ext}.{}", kind.extensions[0]),
        None => kind.extensions[0].to_string(),
    };
    let stem = if stem.is_empty() { "file" } else { stem };
    let room = MAX_NAME
        .saturating_sub(extension.chars().count() + 1)
        .max(1);
    let stem: String = stem.chars().take(room).collect();
    format!("{}.{extension}", stem.trim_end())
}

/// The name the browser sent, as people may read it: control and invisible characters
/// written out as `\u{…}`, so that a right-to-left override cannot disguise "exe.pdf".
pub fn written_out(sent: &str) -> String {
    let mut out = String::new();
    for c in sent.chars().take(MAX_ORIGINAL) {
        if c.is_control() || is_invisible(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// `attachment` with the name twice: an ASCII fallback in `filename` and the UTF-8 name,
/// percent-encoded, in `filename*` (RFC 6266).
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' && c != '%' => c,
            _ => '_',
        })
        .collect();
    let mut encoded = String::new();
    for byte in name.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                encoded.push(byte as char)
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::kind::{PDF, PLAIN_TEXT};

    #[test]
    fn a_stored_name_has_no_path_control_or_bidi_characters_and_the_type_s_extension() {
        assert_eq!(sanitise("../../etc/passwd", &PLAIN_TEXT), "passwd.txt");
        assert_eq!(sanitise("C:\\Users\\ann\\report.PDF", &PDF), "report.PDF");
        assert_eq!(
            sanitise("invoice\u{202e}fdp.exe", &PDF),
            "invoicefdp.exe.pdf"
        );
        assert_eq!(sanitise("a\0b\u{7}c.txt", &PLAIN_TEXT), "abc.txt");
        assert_eq!(sanitise("..", &PLAIN_TEXT), "file.txt");
        assert_eq!(sanitise("", &PDF), "file.pdf");
        assert_eq!(sanitise(".hidden", &PLAIN_TEXT), "hidden.txt");
        assert_eq!(sanitise("what?<now>.txt", &PLAIN_TEXT), "what__now_.txt");
        let long = sanitise(&format!("{}.pdf", "x".repeat(500)), &PDF);
        assert_eq!(long.chars().count(), 200);
        assert!(long.ends_with(".pdf"));
    }

    #[test]
    fn the_original_name_shows_what_was_hidden_in_it() {
        assert_eq!(
            written_out("invoice\u{202e}fdp.exe"),
            "invoice\\u{202e}fdp.exe"
        );
        assert_eq!(written_out("a\0b"), "a\\u{0}b");
        assert_eq!(written_out("Zürich.pdf"), "Zürich.pdf");
    }

    #[test]
    fn a_download_names_its_file_in_ascii_and_in_utf8() {
        assert_eq!(
            content_disposition("Zürich \"plan\".pdf"),
            "attachment; filename=\"Z_rich _plan_.pdf\"; filename*=UTF-8''Z%C3%BCrich%20%22plan%22.pdf"
        );
    }
}
