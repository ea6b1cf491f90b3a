//! The process and async-runtime series every Go operator exports through
//! client_golang's collectors (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, ...), read on each scrape.
//!
//! Kubebuilder's resource dashboard plots CPU and memory from exactly these
//! names, and alerts on them are common, so they keep Prometheus' standard
//! names and units. The process series come from `/proc/self` (Linux, where
//! operators run; elsewhere they are left out rather than faked). Go's
//! `go_goroutines` has no Rust counterpart; tokio's own runtime metrics
//! (`tokio_runtime_*`) say the same about the async runtime: how many tasks
//! are alive and how much work waits for a worker.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

/// Registers the collector that reads the process and runtime series on
/// each scrape.
pub(crate) fn register(registry: &mut Registry) {
    registry.register_collector(Box::new(ProcessCollector));
}

#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        if let Some(stats) = ProcessStats::read() {
            let counter = ConstCounter::new(stats.cpu_seconds);
            counter.encode(encoder.encode_descriptor(
                "process_cpu",
                "Total user and system CPU time spent in seconds",
                Some(&Unit::Seconds),
                counter.metric_type(),
            )?)?;
            let gauges: [(&str, &str, Option<Unit>, f64); 5] = [
                (
                    "process_resident_memory",
                    "Resident memory size in bytes",
                    Some(Unit::Bytes),
                    stats.resident_bytes,
                ),
                (
                    "process_virtual_memory",
                    "Virtual memory size in bytes",
                    Some(Unit::Bytes),
                    stats.virtual_bytes,
                ),
                (
                    "process_start_time",
                    "Start time of the process since unix epoch in seconds",
                    Some(Unit::Seconds),
                    stats.start_time_seconds,
                ),
                (
                    "process_open_fds",
                    "Number of open file descriptors",
                    None,
                    stats.open_fds,
                ),
                (
                    "process_max_fds",
                    "Maximum number of open file descriptors",
                    None,
                    stats.max_fds,
                ),
            ];
            for (name, help, unit, value) in &gauges {
                encode_gauge(&mut encoder, name, help, unit.as_ref(), *value)?;
            }
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let metrics = runtime.metrics();
            let gauges = [
                (
                    "tokio_runtime_workers",
                    "Number of worker threads of the async runtime",
                    metrics.num_workers(),
                ),
                (
                    "tokio_runtime_alive_tasks",
                    "Number of tasks alive in the async runtime (Go's go_goroutines, roughly)",
                    metrics.num_alive_tasks(),
                ),
                (
                    "tokio_runtime_global_queue_depth",
                    "Number of tasks waiting in the runtime's global queue for a worker",
                    metrics.global_queue_depth(),
                ),
            ];
            for (name, help, value) in gauges {
                // Counts far below 2^53: exact as f64.
                encode_gauge(&mut encoder, name, help, None, value as f64)?;
            }
        }
        Ok(())
    }
}

fn encode_gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, unit, gauge.metric_type())?)
}

/// One reading of `/proc/self`.
#[derive(Debug, PartialEq)]
struct ProcessStats {
    cpu_seconds: f64,
    resident_bytes: f64,
    virtual_bytes: f64,
    start_time_seconds: f64,
    open_fds: f64,
    max_fds: f64,
}

/// Clock ticks per second in `/proc/<pid>/stat`. Linux reports these times
/// in USER_HZ, which is 100 on every architecture Kubernetes runs on; the
/// Prometheus Go client (procfs) assumes the same.
const USER_HZ: f64 = 100.0;

impl ProcessStats {
    /// Reads the current process' figures; `None` off Linux or if procfs
    /// is not mounted, so the series are absent rather than wrong.
    fn read() -> Option<ProcessStats> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count();
        Self::parse(&stat, &status, &boot, &limits, open_fds)
    }

    /// The figures from the files' contents (`open_fds`: the entries of
    /// `/proc/self/fd`); separate from [`ProcessStats::read`] so it is
    /// tested on fixed input.
    fn parse(
        stat: &str,
        status: &str,
        proc_stat: &str,
        limits: &str,
        open_fds: usize,
    ) -> Option<ProcessStats> {
        // The command name (field 2) is in parentheses and may contain
        // spaces or ')': the fields after it start after the last ')'.
        let after_comm = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        // fields[0] is field 3 (state): field N is fields[N - 3].
        let field = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
        let cpu_ticks = field(14)? + field(15)?;
        let start_ticks = field(22)?;
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key))?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
                .map(|kib| kib * 1024.0)
        };
        let boot_time = proc_stat
            .lines()
            .find_map(|line| line.strip_prefix("btime "))?
            .trim()
            .parse::<f64>()
            .ok()?;
        // "Max open files            1048576              1048576              files"
        let max_fds = limits
            .lines()
            .find_map(|line| line.strip_prefix("Max open files"))?
            .split_whitespace()
            .next()
            .and_then(|soft| soft.parse::<f64>().ok())
            // "unlimited", as Go's collector reports it.
            .unwrap_or(f64::INFINITY);
        Some(ProcessStats {
            cpu_seconds: cpu_ticks / USER_HZ,
            resident_bytes: kib("VmRSS:")?,
            virtual_bytes: kib("VmSize:")?,
            start_time_seconds: boot_time + start_ticks / USER_HZ,
            // A count of directory entries: exact as f64.
            open_fds: open_fds as f64,
            max_fds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "4242 (my (odd) manager) S 1 4242 4242 0 -1 4194560 2153 0 0 0 \
                    150 25 0 0 20 0 6 0 7000 123456789 3000 18446744073709551615";
        let status = "Name:\tmanager\nVmSize:\t  120000 kB\nVmRSS:\t   12000 kB\n";
        let proc_stat = "cpu  1 2 3\nbtime 1700000000\nprocesses 99\n";
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 1048576              files\n";
        let stats = ProcessStats::parse(stat, status, proc_stat, limits, 9).unwrap();
        assert_eq!(
            stats,
            ProcessStats {
                cpu_seconds: 1.75,
                resident_bytes: 12000.0 * 1024.0,
                virtual_bytes: 120000.0 * 1024.0,
                start_time_seconds: 1_700_000_070.0,
                open_fds: 9.0,
                max_fds: 1024.0,
            }
        );
    }

    #[test]
    fn unreadable_input_gives_nothing() {
        assert_eq!(ProcessStats::parse("garbage", "", "", "", 0), None);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn scrape_has_process_and_runtime_series() {
        let mut registry = Registry::default();
        register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for series in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_virtual_memory_bytes ",
            "process_start_time_seconds ",
            "process_open_fds ",
            "process_max_fds ",
            "tokio_runtime_workers ",
            "tokio_runtime_alive_tasks ",
            "tokio_runtime_global_queue_depth ",
        ] {
            assert!(text.contains(series), "{series} missing from:\n{text}");
        }
        let rss: f64 = text
            .lines()
            .find_map(|line| line.strip_prefix("process_resident_memory_bytes "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            rss > 1_000_000.0,
            "a test process uses more than 1 MB: {rss}"
        );
    }
}
