//! ExecutePlan's operations: a query runs in a task of its own and leaves its responses in a
//! small buffer; the client's stream reads them, and after a dropped connection
//! ReattachExecute reads on from the last response the client saw.
//!
//! As in Spark, the query waits only for the client's reading, never for its ReleaseExecute
//! calls (the client sends them from a background thread, often well behind): at most
//! [`MAX_AHEAD`] responses wait unsent, and of the sent ones the newest
//! [`RETRY_BUFFER_BYTES`] stay for a reattach until released. Results are never held whole.

use crate::error::{ConnectError, ConnectResult};
use crate::proto::execute_plan_response::{ArrowBatch, ExecutionProgress, ResponseType, ResultComplete};
use crate::proto::{DataType as SparkType, ExecutePlanResponse};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::writer::StreamWriter;
use futures::Stream;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// Responses the query may produce ahead of the client's reading: with ≤ 4 MiB each,
/// ≤ 32 MiB per operation.
const MAX_AHEAD: u64 = 8;
/// Sent responses kept for a reattach, newest first (Spark's
/// `spark.connect.execute.reattachable.observerRetryBufferSize`); the last sent one is always
/// kept, whatever its size.
const RETRY_BUFFER_BYTES: usize = 10 * 1024 * 1024;
/// Largest Arrow payload in one response (PySpark accepts 128 MiB messages).
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// A query that sends nothing this long sends a progress message, so that the client and any
/// proxy between know it is alive.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long an operation whose client went away waits for it to reattach before it is
/// cancelled.
const REATTACH_GRACE: Duration = Duration::from_secs(30);

#[derive(Default)]
struct State {
    /// Responses not yet released (nor dropped from the retry buffer), oldest first, with
    /// their sequence numbers and encoded sizes.
    buffer: VecDeque<Buffered>,
    next_sequence: u64,
    /// Every response before this one has reached a reader.
    sent: u64,
    done: bool,
    error: Option<tonic::Status>,
    readers: usize,
    interrupted: bool,
}

struct Buffered {
    sequence: u64,
    bytes: usize,
    response: ExecutePlanResponse,
}

impl State {
    /// Drops the oldest sent responses beyond the retry budget.
    fn trim(&mut self) {
        let mut kept: usize = self.buffer.iter().filter(|b| b.sequence < self.sent).map(|b| b.bytes).sum();
        while let Some(oldest) = self.buffer.front() {
            if oldest.sequence + 1 >= self.sent || kept <= RETRY_BUFFER_BYTES {
                break;
            }
            kept -= oldest.bytes;
            self.buffer.pop_front();
        }
    }

    /// Forgets the responses up to and including `sequence`.
    fn release_through(&mut self, sequence: u64) {
        while self.buffer.front().is_some_and(|b| b.sequence <= sequence) {
            self.buffer.pop_front();
        }
    }

    /// The first sequence still available.
    fn first_available(&self) -> u64 {
        self.buffer.front().map_or(self.next_sequence, |b| b.sequence)
    }
}

/// One ExecutePlan call, by its operation id.
pub struct Operation {
    id: String,
    session_id: String,
    server_side_id: String,
    pub tags: Vec<String>,
    reattachable: bool,
    state: Mutex<State>,
    changed: Notify,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Operation {
    pub fn new(id: String, session_id: String, server_side_id: String, tags: Vec<String>, reattachable: bool) -> Arc<Self> {
        Arc::new(Self {
            id,
            session_id,
            server_side_id,
            tags,
            reattachable,
            state: Mutex::default(),
            changed: Notify::new(),
            task: Mutex::new(None),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn is_finished(&self) -> bool {
        self.state().done
    }

    fn response(&self, response_type: Option<ResponseType>) -> ExecutePlanResponse {
        ExecutePlanResponse {
            session_id: self.session_id.clone(),
            server_side_session_id: self.server_side_id.clone(),
            operation_id: self.id.clone(),
            response_id: String::new(),
            response_type,
            ..Default::default()
        }
    }

    /// Queues a response, waiting while the client is too far behind.
    pub async fn send(&self, response_type: ResponseType) -> ConnectResult<()> {
        self.send_response(self.response(Some(response_type))).await
    }

    pub async fn send_schema(&self, schema: SparkType) -> ConnectResult<()> {
        self.send_response(ExecutePlanResponse { schema: Some(schema), ..self.response(None) }).await
    }

    async fn send_response(&self, mut response: ExecutePlanResponse) -> ConnectResult<()> {
        loop {
            let notified = self.changed.notified();
            {
                let mut state = self.state();
                if state.interrupted {
                    return Err(ConnectError::Interrupted);
                }
                if state.next_sequence - state.sent < MAX_AHEAD {
                    let sequence = state.next_sequence;
                    state.next_sequence += 1;
                    // The id carries the sequence, so that a reattach or a release finds its
                    // place even after the retry buffer dropped the response itself.
                    response.response_id = format!("{}/{sequence}", self.id);
                    let bytes = prost::Message::encoded_len(&response);
                    state.buffer.push_back(Buffered { sequence, bytes, response });
                    drop(state);
                    self.changed.notify_waiters();
                    return Ok(());
                }
            }
            notified.await;
        }
    }

    /// The sequence number in one of this operation's response ids.
    fn sequence_of(&self, response_id: &str) -> ConnectResult<u64> {
        response_id
            .strip_prefix(self.id.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|sequence| sequence.parse().ok())
            .ok_or_else(|| ConnectError::invalid(format!("response id {response_id} is not one of operation {}", self.id)))
    }

    /// Ends the operation: ResultComplete for a reattachable client, or the error.
    pub async fn finish(self: &Arc<Self>, result: ConnectResult<()>) {
        let result = match result {
            Ok(()) if self.reattachable => self.send(ResponseType::ResultComplete(ResultComplete {})).await,
            other => other,
        };
        let mut state = self.state();
        state.done = true;
        if let Err(error) = result {
            log::info!("operation {} failed: {error}", self.id);
            state.error = Some(error.to_status());
        }
        drop(state);
        self.changed.notify_waiters();
    }

    pub fn set_task(&self, handle: tokio::task::AbortHandle) {
        *self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(handle);
    }

    /// Cancels the query; its stream ends with OPERATION_CANCELED.
    pub fn interrupt(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            task.abort();
        }
        let mut state = self.state();
        if !state.done {
            state.interrupted = true;
            state.done = true;
            state.error = Some(ConnectError::Interrupted.to_status());
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// Forgets the responses up to and including `response_id` (all when None).
    pub fn release(&self, response_id: Option<&str>) -> ConnectResult<()> {
        let through = response_id.map(|id| self.sequence_of(id)).transpose()?;
        let mut state = self.state();
        match through {
            None => state.buffer.clear(),
            Some(sequence) => state.release_through(sequence),
        }
        drop(state);
        self.changed.notify_waiters();
        Ok(())
    }

    /// The client's stream of responses, after `last_response_id` when it reattaches.
    pub fn stream(self: &Arc<Self>, last_response_id: Option<&str>) -> ConnectResult<ResponseStream> {
        let after = last_response_id.map(|id| self.sequence_of(id)).transpose()?;
        let start = {
            let mut state = self.state();
            let start = match after {
                None => state.first_available(),
                Some(seen) => seen + 1,
            };
            if start < state.first_available() {
                return Err(ConnectError::Handle {
                    message: format!(
                        "[INVALID_CURSOR.POSITION_NOT_AVAILABLE] The response after {} of operation {} is no longer buffered.",
                        last_response_id.unwrap_or_default(),
                        self.id
                    ),
                    error_class: "INVALID_CURSOR.POSITION_NOT_AVAILABLE",
                });
            }
            state.readers += 1;
            start
        };
        let reader = Reader { operation: Arc::clone(self), next: start, ended: false };
        Ok(Box::pin(futures::stream::unfold(reader, |mut reader| async move {
            let item = reader.next().await?;
            Some((item, reader))
        })))
    }
}

pub type ResponseStream = Pin<Box<dyn Stream<Item = Result<ExecutePlanResponse, tonic::Status>> + Send>>;

struct Reader {
    operation: Arc<Operation>,
    next: u64,
    ended: bool,
}

impl Reader {
    async fn next(&mut self) -> Option<Result<ExecutePlanResponse, tonic::Status>> {
        if self.ended {
            return None;
        }
        loop {
            let notified = self.operation.changed.notified();
            {
                let mut state = self.operation.state();
                if let Some(buffered) = state.buffer.iter().find(|b| b.sequence >= self.next) {
                    let (sequence, response) = (buffered.sequence, buffered.response.clone());
                    self.next = sequence + 1;
                    state.sent = state.sent.max(self.next);
                    if self.operation.reattachable {
                        state.trim();
                    } else {
                        state.release_through(sequence);
                    }
                    drop(state);
                    self.operation.changed.notify_waiters();
                    return Some(Ok(response));
                }
                if state.done {
                    self.ended = true;
                    return state.error.clone().map(Err);
                }
            }
            notified.await;
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let operation = Arc::clone(&self.operation);
        let mut state = operation.state();
        state.readers = state.readers.saturating_sub(1);
        if state.done || state.readers > 0 {
            return;
        }
        drop(state);
        // The client went away mid-stream. A reattachable one may come back; else cancel.
        if !operation.reattachable {
            log::info!("operation {}: the client disconnected, cancelling", operation.id);
            operation.interrupt();
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                tokio::time::sleep(REATTACH_GRACE).await;
                let state = operation.state();
                let abandoned = !state.done && state.readers == 0;
                drop(state);
                if abandoned {
                    log::info!("operation {}: no client reattached within {REATTACH_GRACE:?}, cancelling", operation.id);
                    operation.interrupt();
                }
            });
        }
    }
}

/// Sends `batch` as Arrow IPC responses of at most [`MAX_RESPONSE_BYTES`] each.
pub async fn send_batch(operation: &Operation, batch: &RecordBatch, allow_chunking: bool, start_offset: &mut i64) -> ConnectResult<()> {
    for (rows, data) in encode_bounded(batch)? {
        if data.len() > MAX_RESPONSE_BYTES && allow_chunking {
            let chunks: Vec<&[u8]> = data.chunks(MAX_RESPONSE_BYTES).collect();
            let count = chunks.len() as i64;
            for (index, chunk) in chunks.into_iter().enumerate() {
                operation
                    .send(ResponseType::ArrowBatch(ArrowBatch {
                        row_count: rows as i64,
                        data: bytes::Bytes::copy_from_slice(chunk),
                        start_offset: Some(*start_offset),
                        chunk_index: Some(index as i64),
                        num_chunks_in_batch: Some(count),
                    }))
                    .await?;
            }
        } else {
            operation
                .send(ResponseType::ArrowBatch(ArrowBatch {
                    row_count: rows as i64,
                    data: data.into(),
                    start_offset: Some(*start_offset),
                    chunk_index: None,
                    num_chunks_in_batch: None,
                }))
                .await?;
        }
        *start_offset += rows as i64;
    }
    Ok(())
}

/// An empty result still tells the client its columns.
pub async fn send_empty(operation: &Operation, schema: &SchemaRef) -> ConnectResult<()> {
    let data = encode(&RecordBatch::new_empty(Arc::clone(schema)))?;
    operation
        .send(ResponseType::ArrowBatch(ArrowBatch {
            row_count: 0,
            data: data.into(),
            start_offset: Some(0),
            chunk_index: None,
            num_chunks_in_batch: None,
        }))
        .await
}

fn encode(batch: &RecordBatch) -> ConnectResult<Vec<u8>> {
    let mut writer = StreamWriter::try_new(Vec::new(), batch.schema_ref())?;
    writer.write(batch)?;
    writer.finish()?;
    Ok(writer.into_inner()?)
}

/// Slices of `batch` encoded, each under the size limit unless a single row is larger.
fn encode_bounded(batch: &RecordBatch) -> ConnectResult<Vec<(usize, Vec<u8>)>> {
    let rows = batch.num_rows();
    let data = encode(batch)?;
    if data.len() <= MAX_RESPONSE_BYTES || rows <= 1 {
        return Ok(vec![(rows, data)]);
    }
    let per_row = data.len().div_ceil(rows).max(1);
    let step = (MAX_RESPONSE_BYTES / per_row).clamp(1, rows.div_ceil(2));
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < rows {
        let len = step.min(rows - offset);
        out.extend(encode_bounded(&batch.slice(offset, len))?);
        offset += len;
    }
    Ok(out)
}

/// Waits for `next` and sends a heartbeat each [`HEARTBEAT`] it takes.
pub async fn with_heartbeat<F: std::future::Future>(operation: &Operation, next: F) -> ConnectResult<F::Output> {
    tokio::pin!(next);
    loop {
        tokio::select! {
            value = &mut next => return Ok(value),
            () = tokio::time::sleep(HEARTBEAT) => {
                operation.send(ResponseType::ExecutionProgress(ExecutionProgress { stages: Vec::new(), num_inflight_tasks: 0 })).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BinaryArray, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use futures::StreamExt;

    #[test]
    fn large_batches_are_split_under_the_response_limit() -> ConnectResult<()> {
        let values: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 256 * 1024]).collect();
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("content", DataType::Binary, false)]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from_iter_values(0..64)), Arc::new(BinaryArray::from_iter_values(values.iter().map(Vec::as_slice)))],
        )?;
        let parts = encode_bounded(&batch)?;
        assert!(parts.len() >= 4);
        assert_eq!(parts.iter().map(|(rows, _)| rows).sum::<usize>(), 64);
        assert!(parts.iter().all(|(_, data)| data.len() <= MAX_RESPONSE_BYTES));
        Ok(())
    }

    #[tokio::test]
    async fn a_reattaching_reader_continues_after_the_last_response_it_saw() -> ConnectResult<()> {
        let operation = Operation::new("op".into(), "s".into(), "ss".into(), Vec::new(), true);
        for _ in 0..3 {
            operation.send(ResponseType::ExecutionProgress(ExecutionProgress::default())).await?;
        }
        let mut first = operation.stream(None)?;
        let seen = first.next().await.ok_or(ConnectError::Interrupted)?.map_err(|_| ConnectError::Interrupted)?;
        drop(first);
        operation.finish(Ok(())).await;
        let rest: Vec<_> = operation.stream(Some(&seen.response_id))?.collect().await;
        assert_eq!(rest.len(), 3, "two progress messages and ResultComplete");
        assert!(matches!(rest[2].as_ref().ok().and_then(|r| r.response_type.clone()), Some(ResponseType::ResultComplete(_))));
        Ok(())
    }
}
