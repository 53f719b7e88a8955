//! How far a running import has got: the import updates it from its tasks and
//! threads, and ImportRosterStream sends it to the person waiting, coalesced.

use std::time::Duration;

use cadre_proto::roster::v1::{self as pb, ImportPhase};
use futures::Stream;
use tokio::sync::watch;
use tonic::Status;

/// Least time between two progress messages of one stream (phase changes and the
/// result are never held back longer than this).
pub const REPORT_EVERY: Duration = Duration::from_millis(200);

/// The import's side: cheap to update, from any thread.
#[derive(Debug)]
pub struct Progress {
    state: watch::Sender<pb::ImportRosterProgress>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    /// A report nobody may be watching yet (the unary RPC and the bench pass one too).
    pub fn new() -> Self {
        Self { state: watch::Sender::new(pb::ImportRosterProgress::default()) }
    }

    /// Moves on to `phase`; never back (the phases of a pipelined import overlap).
    pub fn phase(&self, phase: ImportPhase) {
        self.state.send_if_modified(|p| {
            let moved = p.phase < phase as i32;
            if moved {
                p.phase = phase as i32;
            }
            moved
        });
    }

    pub fn received(&self, bytes: usize) {
        self.state.send_modify(|p| p.bytes_received += bytes as i64);
    }

    pub fn rows_total(&self, rows: usize) {
        self.state.send_modify(|p| p.rows_total = rows as i32);
    }

    pub fn checked(&self, rows: usize) {
        self.state.send_modify(|p| p.rows_checked += rows as i32);
    }

    pub fn written(&self, cadres: usize, posts: usize) {
        self.state.send_modify(|p| {
            p.cadres_written += cadres as i32;
            p.posts_written += posts as i32;
        });
    }

    /// A refused file's rows were written and rolled back: none stays.
    pub fn rolled_back(&self) {
        self.state.send_modify(|p| (p.cadres_written, p.posts_written) = (0, 0));
    }

    /// The last report: phase DONE with the result.
    pub fn done(&self, result: pb::ImportRosterResponse) {
        self.state.send_modify(|p| {
            p.phase = ImportPhase::Done as i32;
            p.result = Some(result);
        });
    }

    fn subscribe(&self) -> watch::Receiver<pb::ImportRosterProgress> {
        self.state.subscribe()
    }
}

/// The reports of an import that `finished` resolves with (its error ends the stream
/// with that status): the current state at most every [`REPORT_EVERY`], then the last
/// one, carrying the result.
pub fn reports(
    progress: &Progress,
    finished: tokio::sync::oneshot::Receiver<Result<(), Status>>,
) -> impl Stream<Item = Result<pb::ImportRosterProgress, Status>> + Send + use<> {
    let updates = progress.subscribe();
    futures::stream::unfold(Some((updates, finished)), |state| async move {
        let (mut updates, mut finished) = state?;
        loop {
            tokio::select! {
                biased;
                // The import is over: its last state, or its error, ends the stream.
                outcome = &mut finished => {
                    let last = match outcome {
                        Ok(Ok(())) => Ok(updates.borrow_and_update().clone()),
                        Ok(Err(status)) => Err(status),
                        Err(_) => Err(Status::internal("the import stopped without a result")),
                    };
                    return Some((last, None));
                }
                _ = tokio::time::sleep(REPORT_EVERY) => {
                    if updates.has_changed().unwrap_or(false) {
                        let now = updates.borrow_and_update().clone();
                        return Some((Ok(now), Some((updates, finished))));
                    }
                }
            }
        }
    })
}
