//! What a file is, told from its bytes: the types Trellis accepts (PDF, images, office
//! documents, plain text and CSV, ZIP), each with the extensions its name may end in. The
//! client's type and name are never trusted; `infer` reads the binary formats, and text is
//! what is valid UTF-8 without NUL that no sniffer takes for markup.

/// A type Trellis accepts: its MIME type, what people call it, and its extensions (the
/// first is added to a name that ends in none of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub mime: &'static str,
    pub label: &'static str,
    pub extensions: &'static [&'static str],
}

pub const PLAIN_TEXT: Accepted = Accepted {
    mime: "text/plain",
    label: "Text",
    extensions: &["txt", "text", "log", "md"],
};

pub const CSV: Accepted = Accepted {
    mime: "text/csv",
    label: "CSV",
    extensions: &["csv"],
};

pub const PDF: Accepted = Accepted {
    mime: "application/pdf",
    label: "PDF",
    extensions: &["pdf"],
};

/// The binary types, as `infer` names them.
const BINARY: &[Accepted] = &[
    PDF,
    Accepted {
        mime: "image/png",
        label: "PNG image",
        extensions: &["png"],
    },
    Accepted {
        mime: "image/jpeg",
        label: "JPEG image",
        extensions: &["jpg", "jpeg"],
    },
    Accepted {
        mime: "image/gif",
        label: "GIF image",
        extensions: &["gif"],
    },
    Accepted {
        mime: "image/webp",
        label: "WebP image",
        extensions: &["webp"],
    },
    Accepted {
        mime: "application/zip",
        label: "ZIP archive",
        extensions: &["zip"],
    },
    Accepted {
        mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        label: "Word document",
        extensions: &["docx"],
    },
    Accepted {
        mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        label: "Excel workbook",
        extensions: &["xlsx"],
    },
    Accepted {
        mime: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        label: "PowerPoint presentation",
        extensions: &["pptx"],
    },
    Accepted {
        mime: "application/vnd.oasis.opendocument.text",
        label: "OpenDocument text",
        extensions: &["odt"],
    },
    Accepted {
        mime: "application/vnd.oasis.opendocument.spreadsheet",
        label: "OpenDocument spreadsheet",
        extensions: &["ods"],
    },
    Accepted {
        mime: "application/vnd.oasis.opendocument.presentation",
        label: "OpenDocument presentation",
        extensions: &["odp"],
    },
    Accepted {
        mime: "application/msword",
        label: "Word 97–2003 document",
        extensions: &["doc"],
    },
    Accepted {
        mime: "application/vnd.ms-excel",
        label: "Excel 97–2003 workbook",
        extensions: &["xls"],
    },
    Accepted {
        mime: "application/vnd.ms-powerpoint",
        label: "PowerPoint 97–2003 presentation",
        extensions: &["ppt"],
    },
];

/// The accepted type stored as `mime`, for showing a stored file.
pub fn by_mime(mime: &str) -> Option<Accepted> {
    BINARY
        .iter()
        .chain([&PLAIN_TEXT, &CSV])
        .find(|a| a.mime == mime)
        .copied()
}

/// What the first bytes of a file say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// A binary type Trellis accepts.
    Binary(Accepted),
    /// A type it does not accept (HTML, SVG, executables, other archives …), by its MIME type.
    Refused(&'static str),
    /// No known format: text, if the whole file turns out valid UTF-8 without NUL.
    Unknown,
}

/// Tells the type from `head`, the file's first bytes (the first chunk: enough for every
/// format above, whose markers sit at its start).
pub fn sniff(head: &[u8]) -> Sniffed {
    // A byte-order mark must not hide markup from the sniffer.
    let unmarked = head.strip_prefix("\u{feff}".as_bytes()).unwrap_or(head);
    let Some(found) = infer::get(head).or_else(|| infer::get(unmarked)) else {
        return Sniffed::Unknown;
    };
    let mime = found.mime_type();
    // PDF readers look for the marker anywhere in the first kilobyte, so `infer` does; a
    // file that starts with something else (markup, say) and carries "%PDF" is not one.
    if mime == "application/pdf" && !head.starts_with(b"%PDF-") {
        return Sniffed::Refused(if infer::text::is_html(unmarked) {
            "text/html"
        } else {
            "application/octet-stream"
        });
    }
    match BINARY.iter().find(|a| a.mime == mime) {
        Some(accepted) => Sniffed::Binary(*accepted),
        None => Sniffed::Refused(mime),
    }
}

/// Whether a file read in pieces is valid UTF-8 without NUL: a sequence may be split
/// between two pieces, so the unfinished end of one is carried to the next.
#[derive(Debug, Default)]
pub struct TextCheck {
    carry: Vec<u8>,
    failed: bool,
}

impl TextCheck {
    pub fn feed(&mut self, piece: &[u8]) {
        if self.failed {
            return;
        }
        if piece.contains(&0) {
            self.failed = true;
            return;
        }
        let mut joined;
        let bytes = if self.carry.is_empty() {
            piece
        } else {
            joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(piece);
            &joined[..]
        };
        match std::str::from_utf8(bytes) {
            Ok(_) => self.carry.clear(),
            // An incomplete sequence at the end (`error_len` none) waits for the next piece.
            Err(e) if e.error_len().is_none() => {
                self.carry = bytes[e.valid_up_to()..].to_vec();
            }
            Err(_) => self.failed = true,
        }
    }

    /// Whether everything fed was text, ending on a whole character.
    pub fn is_text(&self) -> bool {
        !self.failed && self.carry.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(pieces: &[&[u8]]) -> bool {
        let mut check = TextCheck::default();
        for piece in pieces {
            check.feed(piece);
        }
        check.is_text()
    }

    #[test]
    fn formats_are_told_from_their_bytes_not_their_names() {
        assert!(matches!(
            sniff(b"%PDF-1.7\n1 0 obj"),
            Sniffed::Binary(a) if a.mime == "application/pdf"
        ));
        assert!(matches!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Sniffed::Binary(a) if a.mime == "image/png"
        ));
        assert_eq!(
            sniff(b"<!DOCTYPE html><html>"),
            Sniffed::Refused("text/html")
        );
        assert_eq!(
            sniff("\u{feff}<html><script>".as_bytes()),
            Sniffed::Refused("text/html")
        );
        assert!(matches!(
            sniff(b"<?xml version=\"1.0\"?><svg/>"),
            Sniffed::Refused(_)
        ));
        assert!(matches!(sniff(b"MZ\x90\0\x03\0\0\0"), Sniffed::Refused(_)));
        assert_eq!(
            sniff(b"<p>not a pdf</p> %PDF-1.4"),
            Sniffed::Refused("text/html")
        );
        assert_eq!(sniff(b"plain words, a,b,c\n"), Sniffed::Unknown);
    }

    #[test]
    fn text_is_utf8_without_nul_even_when_a_character_is_split_between_pieces() {
        let e_acute = "é".as_bytes();
        assert!(text(&[b"caf", &e_acute[..1], &e_acute[1..], b"!"]));
        assert!(
            !text(&[b"caf", &e_acute[..1]]),
            "cut off inside a character"
        );
        assert!(!text(&[b"a\0b"]));
        assert!(!text(&[b"ok", &[0xff, 0xfe]]));
        assert!(text(&[]));
    }
}
