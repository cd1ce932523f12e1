//! A local SMTP sink: a real SMTP server on loopback that keeps every message it accepts, or
//! refuses them all with a temporary or permanent error, so delivery and retries are tested
//! against the real protocol.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    /// The message as sent, headers and body, with dot-stuffing undone.
    pub data: String,
}

impl Received {
    /// A header's value (unfolded), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }

    /// The plain-text body, quoted-printable decoded (soft line breaks joined).
    pub fn text(&self) -> String {
        let decoded = self.data.replace("=\r\n", "");
        let mut out = String::new();
        let mut bytes = Vec::new();
        let mut chars = decoded.as_bytes().iter().peekable();
        while let Some(&b) = chars.next() {
            if b == b'=' {
                let hi = chars.next().copied();
                let lo = chars.next().copied();
                if let (Some(hi), Some(lo)) = (hi, lo)
                    && let Ok(v) = u8::from_str_radix(&format!("{}{}", hi as char, lo as char), 16)
                {
                    bytes.push(v);
                    continue;
                }
                bytes.push(b);
            } else {
                bytes.push(b);
            }
        }
        out.push_str(&String::from_utf8_lossy(&bytes));
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// 451: try again later.
    Temporary,
    /// 550: never.
    Permanent,
}

#[derive(Clone)]
pub struct Sink {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    mode: Arc<Mutex<Mode>>,
}

impl Sink {
    pub async fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let sink = Sink {
            url,
            received: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Accept)),
        };
        let shared = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sink = shared.clone();
                tokio::spawn(async move {
                    let _ = sink.session(stream).await;
                });
            }
        });
        sink
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    async fn session(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 sink.test ESMTP\r\n").await?;
        let mut to = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_ascii_uppercase();
            if command.starts_with("EHLO") {
                write
                    .write_all(b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                    .await?;
            } else if command.starts_with("HELO") {
                write.write_all(b"250 sink.test\r\n").await?;
            } else if command.starts_with("MAIL FROM") {
                to.clear();
                write.write_all(b"250 OK\r\n").await?;
            } else if command.starts_with("RCPT TO") {
                let address = line
                    .trim_end()
                    .split_once(':')
                    .map(|(_, a)| a.trim().trim_matches(['<', '>']).to_string())
                    .unwrap_or_default();
                to.push(address);
                write.write_all(b"250 OK\r\n").await?;
            } else if command == "DATA" {
                let mode = *self.mode.lock().unwrap();
                match mode {
                    Mode::Temporary => {
                        write.write_all(b"451 4.3.0 try again later\r\n").await?;
                        continue;
                    }
                    Mode::Permanent => {
                        write.write_all(b"550 5.1.1 no such mailbox\r\n").await?;
                        continue;
                    }
                    Mode::Accept => {}
                }
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                    data.push_str(unstuffed);
                }
                self.received.lock().unwrap().push(Received {
                    to: std::mem::take(&mut to),
                    data,
                });
                write.write_all(b"250 OK queued\r\n").await?;
            } else if command == "RSET" || command == "NOOP" {
                write.write_all(b"250 OK\r\n").await?;
            } else if command == "QUIT" {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                write.write_all(b"502 not implemented\r\n").await?;
            }
        }
    }
}
