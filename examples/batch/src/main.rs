//! `conveyor-batch`: process files and folders (walked recursively) with a conveyor
//! pool, showing a progress bar, then a summary; or one JSON line per image (`--json`).
//!
//! ```text
//! conveyor-batch photos/ extra.png -o processed/ [-r recipe.json | -W 800 -q 70 -f webp] [-j 4] [--json]
//! ```
//!
//! Inside folders only image extensions are taken (jpg, jpeg, png, gif, webp, bmp,
//! tif, tiff, ico); the other files are counted and named as skipped. Files named on the
//! command line are always tried. Each input's outputs go to
//! `OUT/<relative path without extension>/<output name>.<ext>`. The exit status is 1
//! when any image failed (they are listed on stderr), 2 on usage errors, 0 otherwise.

mod inputs;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use conveyor::wire::{ErrorJson, OutcomeJson};
use conveyor::{ErrorKind, Job, JobId, Limits, Outcome, Pool, PoolConfig, Recipe, Timings};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

/// Shown after the options by `--help`.
const AFTER_HELP: &str = "\
Examples:
  conveyor-batch photos/ -o out/
      every image under photos/: out/<path>/large.jpg (1600 px) and thumb.webp (320 px)
  conveyor-batch a.jpg b.png -o out/ -W 800 -H 600 -q 70 -f webp
      one 800x600 (inside) WebP per image, out/a/image.webp and out/b/image.webp
  conveyor-batch photos/ -o out/ -W 256 -H 256 --fit cover -f png
      square 256 px PNG thumbnails, cropped to fill
  conveyor-batch photos/ -o out/ -r recipe.json -j 4 --json > results.jsonl
      several outputs per image from a recipe file, one JSON line per image: its
      \"file\" and the outcome JSON every conveyor binding shows (job_id, key, ok,
      input, outputs with their byte_len and saved path, timings; or error)

Recipe file (the schema shared by every conveyor binding):
  {\"outputs\": [{\"name\": \"large\", \"width\": 1600, \"height\": 1600, \"format\": \"jpeg\", \"quality\": 80},
               {\"name\": \"thumb\", \"width\": 320, \"height\": 320, \"fit\": \"cover\", \"format\": \"webp\"}]}

Folders are walked recursively and only image files are taken (jpg, jpeg, png, gif,
webp, bmp, tif, tiff, ico); the others are named on stderr as skipped.

Exit status:
  0  every image was processed
  1  at least one image failed (each is listed on stderr with its error code)
  2  usage error: bad option, missing input, unreadable or invalid recipe";

/// Options.
#[derive(Debug, Parser)]
#[command(
    name = "conveyor-batch",
    version,
    about = "Resize and compress images in bulk with conveyor",
    after_help = AFTER_HELP
)]
struct Args {
    /// Files and folders to process (folders are walked recursively).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder.
    #[arg(short, long)]
    out: PathBuf,
    /// Recipe JSON file (the shared schema). Default: 1600 px JPEG + 320 px WebP, or one
    /// output named `image` when any of --width, --height, --quality, --format, --fit is given.
    #[arg(short, long, conflicts_with_all = ["width", "height", "quality", "format", "fit"])]
    recipe: Option<PathBuf>,
    /// Output width in pixels (one output; the box's other side is free unless --height).
    #[arg(short = 'W', long)]
    width: Option<u32>,
    /// Output height in pixels.
    #[arg(short = 'H', long)]
    height: Option<u32>,
    /// Quality for JPEG and WebP, 1-100 [default: 80].
    #[arg(short, long)]
    quality: Option<u32>,
    /// Output format [default: jpeg].
    #[arg(short, long, value_parser = ["jpeg", "png", "webp"])]
    format: Option<String>,
    /// How the image fits the width x height box [default: inside].
    #[arg(long, value_parser = ["inside", "cover", "contain", "fill"])]
    fit: Option<String>,
    /// Worker threads (default: the available parallelism).
    #[arg(short = 'j', long)]
    workers: Option<usize>,
    /// Print one JSON line per image instead of the progress bar and summary.
    #[arg(long)]
    json: bool,
}

impl Args {
    /// The recipe: from --recipe, from the single-output flags, or the default.
    fn recipe(&self) -> Result<Recipe, Box<dyn std::error::Error>> {
        if let Some(p) = &self.recipe {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            return Ok(Recipe::from_json(&text)?);
        }
        if self.width.is_none()
            && self.height.is_none()
            && self.quality.is_none()
            && self.format.is_none()
            && self.fit.is_none()
        {
            return Ok(Recipe::default());
        }
        let mut output = serde_json::Map::new();
        output.insert("name".into(), json!("image"));
        output.insert(
            "format".into(),
            json!(self.format.as_deref().unwrap_or("jpeg")),
        );
        for (key, value) in [
            ("width", self.width),
            ("height", self.height),
            ("quality", self.quality),
        ] {
            if let Some(v) = value {
                output.insert(key.into(), json!(v));
            }
        }
        if let Some(fit) = &self.fit {
            output.insert("fit".into(), json!(fit));
        }
        Ok(Recipe::from_json(
            &json!({ "outputs": [output] }).to_string(),
        )?)
    }
}

/// What happened to one input file.
struct Done {
    file: PathBuf,
    input_bytes: u64,
    result: Result<conveyor::Report, conveyor::Error>,
    /// The job's id, key and timings, when the file reached the pool.
    job: Option<(JobId, Option<String>, Timings)>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("conveyor-batch: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let recipe = args.recipe()?;
    let inputs::Collected {
        inputs: files,
        skipped,
    } = inputs::collect(&args.inputs)?;
    report_skipped(&skipped);
    let limits = Limits::default();
    let pool = Arc::new(Pool::from_config(PoolConfig {
        workers: args.workers,
        output_dir: Some(args.out.clone()),
        default_recipe: Some(recipe),
        limits: Some(limits),
        ..PoolConfig::default()
    })?);

    let total = files.len() as u64;
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} ETA {eta} {msg}",
        )
        .expect("valid template"),
    );
    let start = Instant::now();

    // Producer: reads files and submits them (blocking while the queue is full, so
    // memory stays bounded); files that cannot be read fail here.
    let (early_tx, early_rx) = std::sync::mpsc::channel::<Done>();
    let by_key: HashMap<String, (PathBuf, u64)> = HashMap::new();
    let by_key = Arc::new(std::sync::Mutex::new(by_key));
    let producer = {
        let (pool, by_key) = (pool.clone(), by_key.clone());
        std::thread::spawn(move || {
            for f in files {
                let size = std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0);
                if size > limits.max_input_bytes {
                    let e = conveyor::Error::new(
                        ErrorKind::LimitExceeded,
                        format!(
                            "file is {size} bytes; the limit is {}",
                            limits.max_input_bytes
                        ),
                    );
                    let _ = early_tx.send(Done {
                        file: f.path,
                        input_bytes: size,
                        result: Err(e),
                        job: None,
                    });
                    continue;
                }
                match std::fs::read(&f.path) {
                    Ok(data) => {
                        by_key
                            .lock()
                            .unwrap()
                            .insert(f.key.clone(), (f.path.clone(), data.len() as u64));
                        if let Err(e) = pool.submit_collected(Job::new(data).with_key(f.key)) {
                            let _ = early_tx.send(Done {
                                file: f.path,
                                input_bytes: size,
                                result: Err(e.into()),
                                job: None,
                            });
                        }
                    }
                    Err(e) => {
                        let e = conveyor::Error::new(
                            ErrorKind::InvalidArgument,
                            format!("cannot read the file: {e}"),
                        );
                        let _ = early_tx.send(Done {
                            file: f.path,
                            input_bytes: 0,
                            result: Err(e),
                            job: None,
                        });
                    }
                }
            }
        })
    };

    let outcomes = pool.outcomes();
    let mut done: Vec<Done> = Vec::with_capacity(total as usize);
    while (done.len() as u64) < total {
        let next = match early_rx.try_recv() {
            Ok(d) => Some(d),
            Err(_) => outcomes
                .recv_timeout(std::time::Duration::from_millis(50))
                .map(|o| to_done(o, &by_key)),
        };
        let Some(d) = next else { continue };
        if args.json {
            println!("{}", json_line(&d));
        }
        if let Err(e) = &d.result {
            bar.set_message(format!(
                "{} failed",
                done.iter().filter(|d| d.result.is_err()).count() + 1
            ));
            if !args.json {
                bar.println(format!("failed: {} ({})", d.file.display(), e.kind));
            }
        }
        bar.inc(1);
        done.push(d);
    }
    producer.join().expect("the producer thread");
    pool.shutdown();
    bar.finish_and_clear();
    let elapsed = start.elapsed();

    let failed: Vec<&Done> = done.iter().filter(|d| d.result.is_err()).collect();
    if !args.json {
        print_summary(&done, skipped.len(), elapsed);
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("{} of {} images failed:", failed.len(), done.len());
    for d in &failed {
        if let Err(e) = &d.result {
            eprintln!("  {}: {} ({})", d.file.display(), e.kind, e.message);
        }
    }
    Ok(ExitCode::from(1))
}

fn to_done(o: Outcome, by_key: &std::sync::Mutex<HashMap<String, (PathBuf, u64)>>) -> Done {
    let key = o.key.clone().unwrap_or_default();
    let (file, input_bytes) = by_key
        .lock()
        .unwrap()
        .remove(&key)
        .unwrap_or_else(|| (PathBuf::from(&key), 0));
    Done {
        file,
        input_bytes,
        result: o.result,
        job: Some((o.job_id, o.key, o.timings)),
    }
}

/// One `--json` line: `file`, then the job's wire outcome (`conveyor::wire`, the JSON
/// every door shows: `job_id`, `key`, `ok`, `input`, `outputs` with the `path` each was
/// saved under, `memory_estimate`, `timings`; or `error`). A file that never reached the
/// pool (unreadable, too large) has only `file`, `ok` and `error`.
fn json_line(d: &Done) -> Value {
    let wire = match &d.job {
        Some((job_id, key, timings)) => {
            serde_json::to_value(OutcomeJson::new(*job_id, key.clone(), &d.result, *timings))
                .expect("outcomes serialise")
        }
        None => json!({
            "ok": d.result.is_ok(),
            "error": d.result.as_ref().err().map(ErrorJson::from),
        }),
    };
    let mut line = serde_json::Map::new();
    line.insert("file".into(), json!(d.file));
    if let Value::Object(fields) = wire {
        line.extend(fields);
    }
    Value::Object(line)
}

/// Names the files in the folders that were not taken (not an image extension).
fn report_skipped(skipped: &[PathBuf]) {
    const SHOWN: usize = 10;
    if skipped.is_empty() {
        return;
    }
    let s = if skipped.len() == 1 { "" } else { "s" };
    eprintln!(
        "conveyor-batch: skipping {} file{s} without an image extension:",
        skipped.len()
    );
    for p in skipped.iter().take(SHOWN) {
        eprintln!("  {}", p.display());
    }
    if skipped.len() > SHOWN {
        eprintln!("  ... and {} more", skipped.len() - SHOWN);
    }
}

fn print_summary(done: &[Done], skipped: usize, elapsed: std::time::Duration) {
    let ok = done.iter().filter(|d| d.result.is_ok()).count();
    let mut by_kind: BTreeMap<ErrorKind, usize> = BTreeMap::new();
    for d in done {
        if let Err(e) = &d.result {
            *by_kind.entry(e.kind).or_default() += 1;
        }
    }
    let bytes_in: u64 = done.iter().map(|d| d.input_bytes).sum();
    let bytes_out: u64 = done
        .iter()
        .filter_map(|d| d.result.as_ref().ok())
        .flat_map(|r| r.outputs.iter().map(|o| o.byte_len))
        .sum();
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!("images: {}", done.len());
    println!("succeeded: {ok}");
    let failures: Vec<String> = by_kind.iter().map(|(k, n)| format!("{k}={n}")).collect();
    println!(
        "failed: {}{}",
        done.len() - ok,
        if failures.is_empty() {
            String::new()
        } else {
            format!(" ({})", failures.join(", "))
        }
    );
    if skipped > 0 {
        println!("skipped (not images): {skipped}");
    }
    println!("bytes in: {bytes_in}");
    println!("bytes out: {bytes_out}");
    println!("elapsed: {secs:.2} s");
    println!("images per second: {:.2}", done.len() as f64 / secs);
}
