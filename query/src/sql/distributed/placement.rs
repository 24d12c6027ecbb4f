//! Which worker scans which file of a bucket (`docs/scale-out.md`). A worker fetches a
//! whole data file into its cache before it reads any part of it, so a scan spread over
//! workers gives each file, whole, to one task ([`scale_up`]), always the same for a given
//! number of tasks, and sends task `i` to the `i`-th worker ([`route`]): each worker then
//! fetches and caches about `1/n` of the data, and finds it cached at the next query.
//! `datafusion-distributed`'s own split cuts files into byte ranges spread over all
//! tasks, and routes tasks from a random worker, so every worker would fetch nearly
//! every file.
//!
//! A file goes to the task a hash of its key names: the same at every query whatever else
//! the query reads, and the file sets of one hour spread over the tasks like any others.
//! Tasks get about equal shares of many files (168 hourly files over 4 tasks: within
//! ~20 % of the mean); hours dealt out in turn would be exact over a week, but would send
//! every file of the current hour to one worker.

use std::sync::Arc;

use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::Result;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use datafusion_distributed::{
    DistributedGetterExt, DistributedLeafExec, RouteTasksEvent, RouteTasksEventResponse,
    ScaleUpLeafNodeEvent, ScaleUpLeafNodeEventResponse, WorkerResolver,
};

use crate::sql::scan::bucket::bucket_url;

/// The task (of `tasks`) that scans the file with key `key`: FNV-1a of the key, its bits
/// mixed (FNV's low bits depend on the bytes' low bits only), the same in every process
/// and release.
fn task_of(key: &str, tasks: usize) -> usize {
    let mut h = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    // MurmurHash3's finalizer.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h % tasks.max(1) as u64) as usize
}

/// Splits a Parquet scan of bucket files into `ev.task_count` tasks, each file (or every
/// range of it) in the task [`task_of`] names, in as many partitions per task as the scan
/// had, balanced by bytes. Other leaves, and scans that must keep an order or a
/// partitioning, are left to the library.
pub(crate) fn scale_up(
    ev: ScaleUpLeafNodeEvent<'_>,
) -> Option<Result<ScaleUpLeafNodeEventResponse>> {
    let scan = (ev.plan.as_ref() as &dyn std::any::Any).downcast_ref::<DataSourceExec>()?;
    let config = scan.data_source().downcast_ref::<FileScanConfig>()?;
    if config.object_store_url != bucket_url()
        || config.output_partitioning.is_some()
        || !config.output_ordering.is_empty()
    {
        return None;
    }
    let tasks = ev.task_count.max(1);
    let partitions = ev.plan.output_partitioning().partition_count().max(1);
    let mut per_task: Vec<Vec<PartitionedFile>> = vec![Vec::new(); tasks];
    for file in config.file_groups.iter().flat_map(|g| g.iter()) {
        per_task[task_of(file.object_meta.location.as_ref(), tasks)].push(file.clone());
    }
    let variants = per_task.into_iter().map(|files| {
        let mut groups: Vec<(u64, Vec<PartitionedFile>)> = vec![(0, Vec::new()); partitions];
        for file in files {
            // The lightest group so far takes the next file.
            if let Some(g) = groups.iter_mut().min_by_key(|g| g.0) {
                g.0 += file.effective_size();
                g.1.push(file);
            }
        }
        let mut variant = config.clone();
        variant.file_groups = groups.into_iter().map(|g| FileGroup::new(g.1)).collect();
        DataSourceExec::from_data_source(variant) as Arc<dyn ExecutionPlan>
    });
    Some(
        DistributedLeafExec::try_new(Arc::clone(ev.plan), variants)
            .map(|leaf| ScaleUpLeafNodeEventResponse::new(Arc::new(leaf))),
    )
}

/// Sends task `i` of a stage of several tasks to the `i`-th configured worker, so that
/// [`scale_up`]'s files meet the same worker's cache at every query. A stage of one task
/// is left to the library (it runs it where its input is).
pub(crate) fn route(ev: RouteTasksEvent<'_>) -> Option<Result<RouteTasksEventResponse>> {
    if ev.task_count < 2 {
        return None;
    }
    let urls = match ev
        .task_ctx
        .session_config()
        .get_distributed_worker_resolver()
        .and_then(|r| r.get_urls())
    {
        Ok(urls) if !urls.is_empty() => urls,
        Ok(_) => return None,
        Err(e) => return Some(Err(e)),
    };
    let assigned = (0..ev.task_count)
        .map(|i| urls[i % urls.len()].clone())
        .collect();
    Some(Ok(RouteTasksEventResponse::new(assigned)))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::physical_plan::{FileScanConfigBuilder, ParquetSource};
    use datafusion::prelude::SessionConfig;

    use super::*;

    #[test]
    fn a_key_always_goes_to_the_same_task_and_keys_spread() {
        let keys: Vec<String> = (0..168)
            .map(|h| {
                format!(
                    "traces/tenant=t/date=2026-11-{:02}/hour={:02}/spans-{h}-6-c.parquet",
                    20 + h / 24,
                    h % 24
                )
            })
            .collect();
        let mut load = [0usize; 4];
        for k in &keys {
            let t = task_of(k, 4);
            assert_eq!(t, task_of(k, 4));
            load[t] += 1;
        }
        // 42 each on average; a hash is not exact, but none is far off.
        assert!(load.iter().all(|&n| (30..=54).contains(&n)), "{load:?}");
        assert_eq!(task_of("any", 1), 0);
    }

    fn scan(files: &[(String, u64)], partitions: usize) -> Arc<dyn ExecutionPlan> {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let groups: Vec<Vec<PartitionedFile>> = (0..partitions)
            .map(|p| {
                files
                    .iter()
                    .skip(p)
                    .step_by(partitions)
                    .map(|(k, size)| PartitionedFile::new(k.clone(), *size))
                    .collect()
            })
            .collect();
        let config = FileScanConfigBuilder::new(bucket_url(), Arc::new(ParquetSource::new(schema)))
            .with_file_groups(groups.into_iter().map(FileGroup::new).collect())
            .build();
        DataSourceExec::from_data_source(config)
    }

    fn keys_of(plan: &Arc<dyn ExecutionPlan>) -> Vec<Vec<String>> {
        let scan = (plan.as_ref() as &dyn std::any::Any)
            .downcast_ref::<DataSourceExec>()
            .expect("a scan");
        let config = scan
            .data_source()
            .downcast_ref::<FileScanConfig>()
            .expect("files");
        config
            .file_groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|f| f.object_meta.location.to_string())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn each_file_is_scanned_whole_by_one_task_in_equal_partitions() {
        let files: Vec<(String, u64)> = (0..10)
            .map(|h| {
                (
                    format!("traces/tenant=t/date=2026-11-22/hour={h:02}/spans-{h}.parquet"),
                    100,
                )
            })
            .collect();
        let plan = scan(&files, 2);
        let cfg = SessionConfig::new();
        let ev = ScaleUpLeafNodeEvent {
            plan: &plan,
            task_count: 4,
            session_config: &cfg,
        };
        let leaf = scale_up(ev).expect("a bucket scan").expect("split").plan;
        let leaf = (leaf.as_ref() as &dyn std::any::Any)
            .downcast_ref::<DistributedLeafExec>()
            .expect("a distributed leaf");
        let tasks: Vec<Vec<Vec<String>>> = leaf.variants().iter().map(keys_of).collect();
        assert_eq!(tasks.len(), 4);
        let mut seen: Vec<String> = Vec::new();
        for (i, task) in tasks.iter().enumerate() {
            assert_eq!(task.len(), 2, "every task keeps the scan's partitions");
            for key in task.iter().flatten() {
                assert_eq!(task_of(key, 4), i, "{key}");
                seen.push(key.clone());
            }
            // Equal files: a task's partitions differ by one file at most.
            let sizes: Vec<usize> = task.iter().map(Vec::len).collect();
            let (lo, hi) = (sizes.iter().min(), sizes.iter().max());
            assert!(
                hi.zip(lo).is_some_and(|(h, l)| h - l <= 1),
                "task {i}: {task:?}"
            );
        }
        seen.sort();
        let mut all: Vec<String> = files.into_iter().map(|f| f.0).collect();
        all.sort();
        assert_eq!(seen, all, "every file once");
    }

    #[test]
    fn local_files_are_left_to_the_library() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let config = FileScanConfigBuilder::new(
            datafusion::execution::object_store::ObjectStoreUrl::local_filesystem(),
            Arc::new(ParquetSource::new(schema)),
        )
        .with_file_groups(vec![FileGroup::new(vec![PartitionedFile::new("a", 1)])])
        .build();
        let plan: Arc<dyn ExecutionPlan> = DataSourceExec::from_data_source(config);
        let cfg = SessionConfig::new();
        let ev = ScaleUpLeafNodeEvent {
            plan: &plan,
            task_count: 2,
            session_config: &cfg,
        };
        assert!(scale_up(ev).is_none());
    }
}
