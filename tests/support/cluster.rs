//! A verger cluster — one scheduler and N executors — started from the `verger` binary as
//! separate processes on 127.0.0.1 with free ports, exactly as `docker/docker-compose.yml`
//! runs them. Dropping the handle kills and reaps every process.

use super::{free_port, wait_for_port};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const VERGER: &str = env!("CARGO_BIN_EXE_verger");

pub struct Cluster {
    processes: Vec<(String, Child)>,
    logs: tempfile::TempDir,
    pub scheduler_port: u16,
}

impl Cluster {
    /// Starts a scheduler and `executors` executors of 2 task slots; `env` is added to their
    /// environment, which has no `AWS_*` variable but those of `env`.
    pub fn start(executors: usize, env: &[(&str, &str)]) -> Cluster {
        Cluster::start_with_slots(executors, 2, env)
    }

    /// Starts a scheduler and `executors` executors of `slots` task slots (`--vcores`) each.
    pub fn start_with_slots(executors: usize, slots: usize, env: &[(&str, &str)]) -> Cluster {
        let logs = tempfile::tempdir().unwrap_or_else(|e| panic!("log dir: {e}"));
        let scheduler_port = free_port();
        let mut cluster = Cluster { processes: vec![], logs, scheduler_port };
        cluster.spawn("scheduler", &["scheduler", "--port", &scheduler_port.to_string()], env);
        wait_for_port(scheduler_port, "the scheduler", Duration::from_secs(30));
        for index in 0..executors {
            let (flight, grpc) = (free_port(), free_port());
            let work_dir = cluster.logs.path().join(format!("work-{index}"));
            let _ = std::fs::create_dir_all(&work_dir);
            let args = [
                "executor".to_owned(),
                "--port".to_owned(),
                flight.to_string(),
                "--grpc-port".to_owned(),
                grpc.to_string(),
                "--scheduler".to_owned(),
                format!("127.0.0.1:{scheduler_port}"),
                "--vcores".to_owned(),
                slots.to_string(),
                "--work-dir".to_owned(),
                work_dir.display().to_string(),
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cluster.spawn(&format!("executor-{index}"), &args, env);
        }
        for index in 0..executors {
            cluster.wait_for_log(&format!("executor-{index}"), "Connected to scheduler", Duration::from_secs(60));
        }
        cluster
    }

    pub fn url(&self) -> String {
        format!("df://127.0.0.1:{}", self.scheduler_port)
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.logs.path().join(format!("{name}.log"))
    }

    fn spawn(&mut self, name: &str, args: &[&str], env: &[(&str, &str)]) {
        let log = std::fs::File::create(self.log_path(name)).unwrap_or_else(|e| panic!("log file: {e}"));
        let err = log.try_clone().unwrap_or_else(|e| panic!("log file: {e}"));
        let mut command = Command::new(VERGER);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .env("RUST_LOG", "info")
            .env("VERGER_PARENT_PID", std::process::id().to_string());
        // S3 configuration comes from `env` only, never from the test's own environment.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("AWS_") {
                command.env_remove(key);
            }
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("could not start {VERGER} {args:?}: {e}"));
        self.processes.push((name.to_owned(), child));
    }

    /// Everything the process `name` logged so far.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    /// All the logs, for failure messages.
    pub fn all_logs(&self) -> String {
        self.processes.iter().map(|(name, _)| format!("==== {name}\n{}", self.log(name))).collect()
    }

    fn wait_for_log(&mut self, name: &str, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log(name).contains(needle) {
                return;
            }
            let exited = self
                .processes
                .iter_mut()
                .find_map(|(process, child)| child.try_wait().ok().flatten().map(|status| format!("{process} exited ({status})")));
            if let Some(exited) = exited {
                panic!("{exited} while starting:\n{}", self.all_logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{name} did not log '{needle}' within {timeout:?}:\n{}", self.all_logs());
    }

    /// Peak resident memory (VmHWM) of each running process so far, in bytes.
    pub fn peak_rss(&self) -> Vec<(String, u64)> {
        self.processes.iter().filter_map(|(name, child)| Some((name.clone(), resident_high_water(child.id())?))).collect()
    }

    /// The shuffle directory of executor `index`.
    pub fn work_dir(&self, index: usize) -> PathBuf {
        self.logs.path().join(format!("work-{index}"))
    }

    /// Stops one process as a service manager does (SIGTERM) and waits for it to exit.
    pub fn terminate(&mut self, name: &str) -> Option<std::process::ExitStatus> {
        let (_, child) = self.processes.iter_mut().find(|(n, _)| n == name)?;
        let pid = libc::pid_t::try_from(child.id()).ok()?;
        // SAFETY: kill with a pid of our own child and a plain signal number.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Kills one process now (to simulate a crash).
    pub fn kill(&mut self, name: &str) {
        if let Some((_, child)) = self.processes.iter_mut().find(|(n, _)| n == name) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in self.processes.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One task of a job as an executor logs it: `Execute task  : [TID job/stage.attempt/task.attempt]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskLine {
    pub job: String,
    pub stage: u32,
    pub task: u32,
    pub attempt: String,
}

fn task_lines(log: &str, marker: &str) -> Vec<TaskLine> {
    log.lines()
        .filter_map(|line| {
            let tid = line.split(marker).nth(1)?.split("[TID ").nth(1)?.split(']').next()?;
            let (job, rest) = tid.split_once('/')?;
            let (stage, rest) = rest.split_once('/')?;
            let (stage, stage_attempt) = stage.split_once('.')?;
            let (task, task_attempt) = rest.split_once('.')?;
            Some(TaskLine {
                job: job.to_owned(),
                stage: stage.parse().ok()?,
                task: task.parse().ok()?,
                attempt: format!("{stage_attempt}.{task_attempt}"),
            })
        })
        .collect()
}

/// The tasks an executor's log says it started.
pub fn started_tasks(log: &str) -> Vec<TaskLine> {
    task_lines(log, "Execute task")
}

/// The tasks an executor's log says it finished.
pub fn finished_tasks(log: &str) -> Vec<TaskLine> {
    task_lines(log, "Finished task")
}

/// The tasks started and not (yet) finished.
pub fn tasks_in_flight(log: &str) -> Vec<TaskLine> {
    let finished = finished_tasks(log);
    started_tasks(log).into_iter().filter(|t| !finished.contains(t)).collect()
}

/// The (job, stage) pairs whose tasks on a lost executor the scheduler reset, to run
/// again: its `Reset N tasks for running|successful job/stage J/S on lost Executor E` lines.
pub fn reset_stages(scheduler_log: &str) -> Vec<(String, u32)> {
    scheduler_log
        .lines()
        .filter(|line| line.contains("on lost Executor"))
        .filter_map(|line| {
            let pair = line.split("job/stage ").nth(1)?.split_whitespace().next()?;
            let (job, stage) = pair.split_once('/')?;
            Some((job.to_owned(), stage.parse().ok()?))
        })
        .collect()
}

/// The high-water mark of process `pid`'s own resident memory (VmHWM), in bytes; `None` once
/// it is gone. Unlike wait4's `ru_maxrss`, it does not include what a spawned child inherits
/// from its parent's peak at exec.
pub fn resident_high_water(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse::<u64>().ok()?;
    Some(kib * 1024)
}
