//! [`EventSpool`]: call events that could not be written to the database yet, kept in an
//! append-only file until they are.
//!
//! The file holds one JSON object per line, `{"key": "<uuid>", "event": <CallEvent>}`, in the
//! order the events were published. It is appended to (and synced to disk) when the database
//! refuses or delays a write, read back when zvonar starts, and emptied once every event in
//! it is stored. Keys make replay idempotent: an event that reached the database but not the
//! removal from the spool (a crash in between) is not written twice
//! ([`crate::DispatchStore::record_event`]).

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use zvonar_models::CallEvent;

/// One call event with the key it is stored under.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpooledEvent {
    /// Unique key (a UUID v4 in text), given when the subscriber first saw the event.
    pub key: String,
    /// The event.
    pub event: CallEvent,
}

impl SpooledEvent {
    /// Gives `event` a fresh key.
    pub fn new(event: CallEvent) -> Self {
        SpooledEvent {
            key: uuid::Uuid::new_v4().to_string(),
            event,
        }
    }
}

/// The spool file and the events in it not yet stored, oldest first.
#[derive(Debug)]
pub struct EventSpool {
    path: PathBuf,
    file: File,
    pending: VecDeque<SpooledEvent>,
}

impl EventSpool {
    /// Opens (creating if missing) the spool at `path` and reads the events left in it by an
    /// earlier run; they come first in [`EventSpool::front`]. A line that does not parse (the
    /// last line torn by a crash mid-write) is moved to `<path>.bad` and logged, never dropped
    /// silently.
    ///
    /// Errors: the file (or its directory) cannot be created, read or written.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<EventSpool> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)?;
        let mut pending = VecDeque::new();
        let mut bad = Vec::new();
        for line in BufReader::new(&file).lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<SpooledEvent>(&line) {
                Ok(e) => pending.push_back(e),
                Err(_) => bad.push(line),
            }
        }
        if !bad.is_empty() {
            let mut name = path.clone().into_os_string();
            name.push(".bad");
            let mut f = OpenOptions::new().create(true).append(true).open(&name)?;
            for line in &bad {
                writeln!(f, "{line}")?;
            }
            f.sync_data()?;
            tracing::error!(lines = bad.len(), file = %PathBuf::from(&name).display(),
                "unreadable lines in the event spool moved aside");
        }
        if !pending.is_empty() {
            tracing::info!(events = pending.len(), spool = %path.display(),
                "call events left in the spool will be written");
        }
        let mut spool = EventSpool {
            path,
            file,
            pending,
        };
        if !bad.is_empty() {
            spool.rewrite()?;
        }
        Ok(spool)
    }

    /// Where the spool file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Events waiting to be stored.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing waits to be stored.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Appends `events` to the file (one write, then synced to disk) and to the queue.
    ///
    /// Errors: the write or sync failed; the events are still queued in memory.
    pub fn push(&mut self, events: Vec<SpooledEvent>) -> std::io::Result<()> {
        let mut buf = Vec::new();
        for e in &events {
            serde_json::to_writer(&mut buf, e)?;
            buf.push(b'\n');
        }
        self.pending.extend(events);
        self.file.write_all(&buf)?;
        self.file.sync_data()
    }

    /// The oldest event not yet stored.
    pub fn front(&self) -> Option<&SpooledEvent> {
        self.pending.front()
    }

    /// Marks the oldest event stored. The file is emptied when the last one is.
    ///
    /// Errors: emptying the file failed (its events are stored; replaying them changes nothing).
    pub fn pop_front(&mut self) -> std::io::Result<()> {
        self.pending.pop_front();
        if self.pending.is_empty() {
            self.file.set_len(0)?;
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Writes the file anew from the queue.
    fn rewrite(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        let pending: Vec<SpooledEvent> = self.pending.drain(..).collect();
        self.push(pending)
    }
}
