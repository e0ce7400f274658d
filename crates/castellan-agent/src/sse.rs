//! A small server-sent events parser (the subset the agent needs), with bounded sizes.
//!
//! Lines end with `\n` (a trailing `\r` is dropped). A blank line dispatches the event built
//! so far. `event:` sets the event name, `data:` appends a data line; one space after the colon
//! is dropped. Comments (lines starting with `:`) and other fields (`id:`, `retry:`) are ignored.

/// Longest line, and largest event data, accepted.
pub(crate) const MAX_SSE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The event name (`message` when the event had no `event:` field).
    pub event: String,
    pub data: String,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooLarge;

#[derive(Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseParser {
    /// Feeds bytes as they arrive; complete events are appended to `out`.
    pub(crate) fn push(
        &mut self,
        mut chunk: &[u8],
        out: &mut Vec<SseEvent>,
    ) -> Result<(), TooLarge> {
        while let Some(i) = chunk.iter().position(|b| *b == b'\n') {
            if self.line.len() + i > MAX_SSE_BYTES {
                return Err(TooLarge);
            }
            self.line.extend_from_slice(&chunk[..i]);
            chunk = &chunk[i + 1..];
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.handle_line(&line, out)?;
            line.clear();
            self.line = line;
        }
        if self.line.len() + chunk.len() > MAX_SSE_BYTES {
            return Err(TooLarge);
        }
        self.line.extend_from_slice(chunk);
        Ok(())
    }

    fn handle_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), TooLarge> {
        if line.is_empty() {
            let event = self.event.take();
            if self.has_data {
                out.push(SseEvent {
                    event: event.unwrap_or_else(|| "message".into()),
                    data: std::mem::take(&mut self.data),
                });
            }
            self.data.clear();
            self.has_data = false;
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (text.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => {
                if self.data.len() + value.len() + 1 > MAX_SSE_BYTES {
                    return Err(TooLarge);
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Result<Vec<SseEvent>, TooLarge> {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        for c in chunks {
            p.push(c, &mut out)?;
        }
        Ok(out)
    }

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn parses_events_across_chunks() {
        let out = parse(&[
            b": keep-alive\n\nevent: chan",
            b"ge\ndata: {\"cursor\":",
            b" 7}\r\n\r\n",
            b"data:a\ndata: b\n\n",
            b"event: change\n\n",
            b"id: 4\nevent:change\ndata:{\"cursor\":8}\n\n",
            b"event: change\ndata: unfinished",
        ])
        .unwrap();
        assert_eq!(
            out,
            vec![
                ev("change", "{\"cursor\": 7}"),
                ev("message", "a\nb"),
                ev("change", "{\"cursor\":8}"),
            ]
        );
    }

    #[test]
    fn bounds_lines_and_data() {
        let long = vec![b'x'; MAX_SSE_BYTES + 1];
        assert_eq!(parse(&[&long]), Err(TooLarge));
        let mut p = SseParser::default();
        let mut out = Vec::new();
        let line = format!("data: {}\n", "y".repeat(40 * 1024));
        p.push(line.as_bytes(), &mut out).unwrap();
        assert_eq!(p.push(line.as_bytes(), &mut out), Err(TooLarge));
    }
}
