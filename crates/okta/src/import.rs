//! Reading Okta events from the formats they arrive in: NDJSON (one event per line), a JSON array
//! of events, an Event Hook envelope (`data.events`), a single event, and gzip of any of these
//! (detected by magic bytes, not the file name). [`EventReader`] yields each event with its line
//! number, or an [`ImportError`] naming file, line and field, and keeps going after a bad line.
//!
//! NDJSON is streamed line by line, so a multi-gigabyte export never sits in memory. A document
//! whose first line is not a whole JSON value (a pretty-printed array or envelope) is read whole.

use crate::event::{EventError, LogEvent};
use flate2::read::MultiGzDecoder;
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Where input came from, for messages: a path, or standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file.
    File(PathBuf),
    /// Standard input (`-`).
    Stdin,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Stdin => f.write_str("<stdin>"),
        }
    }
}

/// A problem with one input record, or with the input as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A record that is not a usable event: `FILE:LINE: field `x`: reason`.
    #[error("{source_name}:{line}: {error}")]
    Event {
        /// The input.
        source_name: Source,
        /// 1-based line where the record starts.
        line: usize,
        /// What is wrong.
        error: EventError,
    },
    /// The input could not be read at all (missing file, broken gzip, I/O error).
    #[error("{source_name}: {reason}")]
    Read {
        /// The input.
        source_name: Source,
        /// What went wrong.
        reason: String,
    },
}

/// One event read from input, with the line it started on.
#[derive(Debug)]
pub struct ReadEvent {
    /// The event.
    pub event: LogEvent,
    /// 1-based line number in the (decompressed) input.
    pub line: usize,
}

/// Iterates the events of one input. Yields `Err` for each bad record and continues; a fatal read
/// error is yielded once and ends the iteration.
pub struct EventReader {
    source: Source,
    state: State,
}

enum State {
    /// Streaming NDJSON; `pending` holds records decoded from the current line (an envelope or
    /// array on one line gives several).
    Lines {
        reader: Box<dyn BufRead + Send>,
        line: usize,
        pending: std::vec::IntoIter<Result<ReadEvent, ImportError>>,
        first: Option<String>,
    },
    /// A whole document already split into records.
    Done(std::vec::IntoIter<Result<ReadEvent, ImportError>>),
}

impl EventReader {
    /// Opens a file (`-` for standard input), transparently un-gzipping.
    pub fn open(path: &Path) -> Result<EventReader, ImportError> {
        if path == Path::new("-") {
            return EventReader::from_reader(Source::Stdin, Box::new(io::stdin()));
        }
        let source = Source::File(path.to_path_buf());
        let file = std::fs::File::open(path).map_err(|e| ImportError::Read {
            source_name: source.clone(),
            reason: format!("cannot open: {e}"),
        })?;
        EventReader::from_reader(source, Box::new(file))
    }

    /// Reads from any byte stream, transparently un-gzipping.
    pub fn from_reader(
        source: Source,
        reader: Box<dyn Read + Send>,
    ) -> Result<EventReader, ImportError> {
        let mut buffered = BufReader::with_capacity(1 << 16, reader);
        let head = buffered.fill_buf().map_err(|e| ImportError::Read {
            source_name: source.clone(),
            reason: format!("cannot read: {e}"),
        })?;
        let reader: Box<dyn BufRead + Send> = if head.starts_with(&[0x1f, 0x8b]) {
            Box::new(BufReader::with_capacity(
                1 << 16,
                MultiGzDecoder::new(buffered),
            ))
        } else {
            Box::new(buffered)
        };
        let mut this = EventReader {
            source,
            state: State::Lines {
                reader,
                line: 0,
                pending: Vec::new().into_iter(),
                first: None,
            },
        };
        this.sniff();
        Ok(this)
    }

    /// Reads the first non-blank line; if it is not a complete JSON value the input is a
    /// multi-line document, read and split whole.
    fn sniff(&mut self) {
        let State::Lines {
            reader,
            line,
            first,
            ..
        } = &mut self.state
        else {
            return;
        };
        let mut leading = String::new();
        loop {
            let mut buf = String::new();
            match reader.read_line(&mut buf) {
                Ok(0) => {
                    self.state = State::Done(Vec::new().into_iter());
                    return;
                }
                Ok(_) => {
                    *line += 1;
                    if buf.trim().is_empty() {
                        leading.push_str(&buf);
                        continue;
                    }
                    if serde_json::from_str::<&RawValue>(buf.trim()).is_ok() {
                        *first = Some(buf);
                        return;
                    }
                    // Not one value per line: read the rest as a single document.
                    let start_line = *line - leading.matches('\n').count();
                    let mut doc = leading;
                    doc.push_str(&buf);
                    if let Err(e) = reader.read_to_string(&mut doc) {
                        let err = ImportError::Read {
                            source_name: self.source.clone(),
                            reason: format!("cannot read: {e}"),
                        };
                        self.state = State::Done(vec![Err(err)].into_iter());
                        return;
                    }
                    let records = split_document(&self.source, &doc, start_line - 1);
                    self.state = State::Done(records.into_iter());
                    return;
                }
                Err(e) => {
                    let err = ImportError::Read {
                        source_name: self.source.clone(),
                        reason: format!("cannot read line {}: {e}", *line + 1),
                    };
                    self.state = State::Done(vec![Err(err)].into_iter());
                    return;
                }
            }
        }
    }

    /// The input's name for messages.
    pub fn source(&self) -> &Source {
        &self.source
    }
}

impl Iterator for EventReader {
    type Item = Result<ReadEvent, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.state {
            State::Done(records) => records.next(),
            State::Lines {
                reader,
                line,
                pending,
                first,
            } => loop {
                if let Some(record) = pending.next() {
                    return Some(record);
                }
                let text = match first.take() {
                    Some(text) => text,
                    None => {
                        let mut buf = String::new();
                        match reader.read_line(&mut buf) {
                            Ok(0) => return None,
                            Ok(_) => {
                                *line += 1;
                                buf
                            }
                            Err(e) => {
                                let err = ImportError::Read {
                                    source_name: self.source.clone(),
                                    reason: format!("cannot read line {}: {e}", *line + 1),
                                };
                                self.state = State::Done(Vec::new().into_iter());
                                return Some(Err(err));
                            }
                        }
                    }
                };
                let trimmed = text.trim_end_matches(['\n', '\r']);
                if trimmed.trim().is_empty() {
                    continue;
                }
                *pending = split_document(&self.source, trimmed, *line - 1).into_iter();
            },
        }
    }
}

/// Splits one JSON document (an event, an array of events, or a hook envelope) into records.
/// `line_offset` is the number of input lines before the document starts.
fn split_document(
    source: &Source,
    doc: &str,
    line_offset: usize,
) -> Vec<Result<ReadEvent, ImportError>> {
    let fail = |line: usize, error: EventError| {
        vec![Err(ImportError::Event {
            source_name: source.clone(),
            line,
            error,
        })]
    };
    let trimmed_start = doc.len() - doc.trim_start().len();
    let first_line = line_offset + 1 + doc[..trimmed_start].matches('\n').count();
    let body = doc.trim();
    if body.starts_with('[') {
        let items: Vec<&RawValue> = match serde_json::from_str(body) {
            Ok(items) => items,
            Err(e) => return fail(first_line + e.line().saturating_sub(1), json_error(e)),
        };
        return records_of(source, doc, &items, line_offset);
    }
    let raw: &RawValue = match serde_json::from_str(body) {
        Ok(raw) => raw,
        Err(e) => return fail(first_line + e.line().saturating_sub(1), json_error(e)),
    };
    // An Event Hook envelope carries its events in data.events; anything else is one event.
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        data: EnvelopeData<'a>,
    }
    #[derive(serde::Deserialize)]
    struct EnvelopeData<'a> {
        #[serde(borrow)]
        events: Vec<&'a RawValue>,
    }
    if let Ok(envelope) = serde_json::from_str::<Envelope>(raw.get()) {
        return records_of(source, doc, &envelope.data.events, line_offset);
    }
    records_of(source, doc, &[raw], line_offset)
}

fn records_of(
    source: &Source,
    doc: &str,
    items: &[&RawValue],
    line_offset: usize,
) -> Vec<Result<ReadEvent, ImportError>> {
    let mut cursor_byte = 0;
    let mut cursor_line = line_offset + 1;
    items
        .iter()
        .map(|item| {
            let text = item.get();
            // RawValue borrows from `doc`, so its position is a pointer difference.
            let offset = (text.as_ptr() as usize).wrapping_sub(doc.as_ptr() as usize);
            let line = if offset <= doc.len() && offset >= cursor_byte {
                cursor_line += doc[cursor_byte..offset].matches('\n').count();
                cursor_byte = offset;
                cursor_line
            } else {
                cursor_line
            };
            let parsed = serde_json::from_str::<Value>(text)
                .map_err(json_error)
                .and_then(|doc| LogEvent::from_parts(text.into(), doc));
            parsed
                .map(|event| ReadEvent { event, line })
                .map_err(|error| ImportError::Event {
                    source_name: source.clone(),
                    line,
                    error,
                })
        })
        .collect()
}

fn json_error(e: serde_json::Error) -> EventError {
    EventError {
        field: "$".into(),
        reason: format!("invalid JSON at column {}: {e}", e.column()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(bytes: &[u8]) -> Vec<Result<ReadEvent, ImportError>> {
        EventReader::from_reader(Source::Stdin, Box::new(io::Cursor::new(bytes.to_vec())))
            .unwrap()
            .collect()
    }

    const E1: &str =
        r#"{"uuid":"u1","published":"2024-01-01T00:00:00Z","eventType":"user.session.start"}"#;
    const E2: &str =
        r#"{"uuid":"u2","published":"2024-01-01T00:00:01Z","eventType":"user.session.end"}"#;

    #[test]
    fn reads_ndjson_and_reports_bad_lines_with_numbers() {
        let input = format!("{E1}\n\n{{\"uuid\":\"u3\",\"published\":\"nope\",\"eventType\":\"x\"}}\nnot json\n{E2}\n");
        let got = read_all(input.as_bytes());
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].as_ref().unwrap().line, 1);
        let err = got[1].as_ref().unwrap_err().to_string();
        assert!(err.starts_with("<stdin>:3: field `published`"), "{err}");
        let err = got[2].as_ref().unwrap_err().to_string();
        assert!(err.starts_with("<stdin>:4: field `$`"), "{err}");
        assert_eq!(got[3].as_ref().unwrap().line, 5);
        assert_eq!(got[3].as_ref().unwrap().event.raw(), E2);
    }

    #[test]
    fn reads_pretty_printed_arrays_with_element_lines() {
        let input = format!("[\n  {E1},\n  {{\n    \"uuid\": \"u2\",\n    \"published\": \"2024-01-01T00:00:01Z\",\n    \"eventType\": \"a\"\n  }}\n]\n");
        let got: Vec<_> = read_all(input.as_bytes())
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].line, 2);
        assert_eq!(got[1].line, 3);
        assert!(got[1].event.raw().starts_with("{\n    \"uuid\""));
    }

    #[test]
    fn reads_hook_envelopes_and_gzip() {
        let envelope =
            format!(r#"{{"eventType":"com.okta.event_hook","data":{{"events":[{E1},{E2}]}}}}"#);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(envelope.as_bytes()).unwrap();
        let got = read_all(&gz.finish().unwrap());
        let uuids: Vec<_> = got
            .iter()
            .map(|r| r.as_ref().unwrap().event.uuid().0.clone())
            .collect();
        assert_eq!(uuids, ["u1", "u2"]);
    }

    #[test]
    fn reports_a_broken_document_once() {
        let got = read_all(b"[\n {\"uuid\": \"u1\",\n");
        assert_eq!(got.len(), 1);
        assert!(got[0]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("invalid JSON"));
    }

    #[test]
    fn missing_file_is_a_read_error_naming_it() {
        let err = EventReader::open(Path::new("/nonexistent/x.ndjson"))
            .err()
            .unwrap();
        assert!(err
            .to_string()
            .starts_with("/nonexistent/x.ndjson: cannot open"));
    }

    #[test]
    fn every_shared_sample_loads_without_error() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/okta/samples");
        let mut total = 0;
        for entry in std::fs::read_dir(&dir).expect("../shared/okta/samples must exist") {
            let path = entry.unwrap().path();
            if !matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("ndjson" | "json")
            ) {
                continue;
            }
            for record in EventReader::open(&path).unwrap() {
                let record = record.unwrap_or_else(|e| panic!("{e}"));
                assert!(!record.event.event_type().is_empty());
                total += 1;
            }
        }
        // 22 + 3 + 7 + 6 + 2 NDJSON events and the hook envelope's one.
        assert_eq!(total, 41);
    }
}
