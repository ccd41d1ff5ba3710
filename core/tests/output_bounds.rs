//! The recipe space's fixed cases (issue 18): output sizes bounded before any work, no
//! abort on a recipe that asks for a huge buffer, and plans that reuse an intermediate
//! only where the output comes out as if made alone. The generated property test that
//! explores the rest of the space is `recipe_space.rs`.

mod common;

use conveyor::pipeline::{run, Context};
use conveyor::{ErrorKind, Limits, Recipe, Report, Stage};

fn run_with(data: &[u8], recipe: &str, limits: &Limits) -> Result<Report, conveyor::Error> {
    let recipe = Recipe::from_json(recipe).unwrap();
    let ctx = Context::new(limits);
    run(data, &recipe, &ctx, &|_| Ok(()))
}

fn decode(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes).unwrap().to_rgba8()
}

fn noise_png(w: u32, h: u32) -> (Vec<u8>, image::RgbaImage) {
    let img = image::RgbaImage::from_fn(w, h, |x, y| {
        let v = (x * 7919 + y * 104_729) ^ (x * y * 31);
        image::Rgba([v as u8, (v >> 8) as u8, (v >> 3) as u8, 255])
    });
    let bytes = common::encode(
        &image::DynamicImage::ImageRgba8(img.clone()),
        image::ImageFormat::Png,
    );
    (bytes, img)
}

#[test]
fn one_side_given_cannot_ask_for_a_huge_buffer() {
    // 1000x1 asked for height 16383 with enlargement: 16 383 000 px wide.
    let png = common::png(1000, 1);
    let e = run_with(
        &png,
        r#"{"outputs":[{"name":"o","height":16383,"without_enlargement":false,"format":"png"}]}"#,
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded, "{e}");
    assert_eq!(e.stage, Some(Stage::Validate), "{e}");
    assert!(e.message.contains("16383000x16383"), "{}", e.message);
    assert!(
        e.message.contains("max_output_width (30000)"),
        "{}",
        e.message
    );
    // Even with every limit lifted, the job fails on its own (the format's ceiling).
    let e = run_with(
        &png,
        r#"{"outputs":[{"name":"o","height":16383,"without_enlargement":false,"format":"png"}]}"#,
        &Limits::no_limits(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded, "{e}");
}

#[test]
fn a_tiny_input_cannot_amplify_past_the_output_limits() {
    let png = common::png(1, 1);
    let big = r#"{"name":"NAME","width":16383,"height":16383,"fit":"fill","without_enlargement":false,"format":"png"}"#;
    let e = run_with(
        &png,
        &format!(r#"{{"outputs":[{}]}}"#, big.replace("NAME", "a")),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
    assert!(
        e.message.contains("max_output_pixels (100000000)"),
        "{}",
        e.message
    );
    // Each output under the per-output limit, but four of them past the total.
    let one = r#"{"name":"NAME","width":9000,"height":9000,"fit":"fill","without_enlargement":false,"format":"jpeg"}"#;
    let outputs: Vec<String> = (0..4)
        .map(|i| one.replace("NAME", &format!("o{i}")))
        .collect();
    let e = run_with(
        &png,
        &format!(r#"{{"outputs":[{}]}}"#, outputs.join(",")),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
    assert!(e.message.contains("outputs[3]"), "{}", e.message);
    assert!(
        e.message.contains("max_output_pixels_total (300000000)"),
        "{}",
        e.message
    );
    // Lowered limits apply too.
    let limits = Limits::default().with_max_output_pixels(100 * 100);
    let e = run_with(
        &png,
        r#"{"outputs":[{"name":"o","width":101,"height":100,"fit":"fill","without_enlargement":false,"format":"png"}]}"#,
        &limits,
    )
    .unwrap_err();
    assert!(e.message.contains("101x100"), "{}", e.message);
    run_with(
        &png,
        r#"{"outputs":[{"name":"o","width":100,"height":100,"fit":"fill","without_enlargement":false,"format":"png"}]}"#,
        &limits,
    )
    .unwrap();
}

#[test]
fn webp_past_its_ceiling_is_refused_before_any_work() {
    let png = common::png(20000, 1);
    for recipe in [
        r#"{"outputs":[{"name":"o","format":"webp"}]}"#,
        r#"{"outputs":[{"name":"o","height":1,"format":"webp"}]}"#,
    ] {
        let e = run_with(&png, recipe, &Limits::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LimitExceeded, "{recipe}: {e}");
        assert_eq!(e.stage, Some(Stage::Validate), "{recipe}: {e}");
        assert!(
            e.message.contains("webp holds at most 16383 pixels a side"),
            "{}",
            e.message
        );
    }
    // A box on the long side fits it; JPEG and PNG hold the original size.
    let r = run_with(
        &png,
        r#"{"outputs":[{"name":"w","width":16383,"format":"webp"},{"name":"j","format":"jpeg"},{"name":"p","format":"png"}]}"#,
        &Limits::default(),
    )
    .unwrap();
    let sizes: Vec<_> = r.outputs.iter().map(|o| (o.width, o.height)).collect();
    assert_eq!(sizes, [(16383, 1), (20000, 1), (20000, 1)]);
}

#[test]
fn a_same_size_lossless_output_is_the_source_even_after_an_enlarged_one() {
    let (png, src) = noise_png(16, 16);
    let r = run_with(
        &png,
        r#"{"outputs":[
            {"name":"big","width":64,"height":64,"without_enlargement":false,"format":"png"},
            {"name":"same","format":"png"},
            {"name":"webp","format":"webp","lossless":true}]}"#,
        &Limits::default(),
    )
    .unwrap();
    for o in &r.outputs[1..] {
        assert_eq!(
            decode(o.data.as_ref().unwrap()),
            src,
            "{} is not the source",
            o.name
        );
    }
}

#[test]
fn the_source_is_kept_while_a_later_output_needs_it() {
    let (png, src) = noise_png(4, 1);
    let r = run_with(
        &png,
        r#"{"outputs":[
            {"name":"a","width":2,"height":8,"fit":"fill","without_enlargement":false,"format":"png"},
            {"name":"b","format":"png"},
            {"name":"c","width":1,"height":1,"format":"png"}]}"#,
        &Limits::default(),
    )
    .unwrap();
    let sizes: Vec<_> = r.outputs.iter().map(|o| (o.width, o.height)).collect();
    assert_eq!(sizes, [(2, 8), (4, 1), (1, 1)]);
    assert_eq!(decode(r.outputs[1].data.as_ref().unwrap()), src);
}

#[test]
fn each_output_is_what_it_would_be_alone() {
    // A downscaled output followed by smaller ones (made from it) and a crop.
    let (png, _) = noise_png(301, 203);
    let outputs = [
        r#"{"name":"a","width":150,"format":"png"}"#,
        r#"{"name":"b","width":60,"height":60,"format":"png"}"#,
        r#"{"name":"c","width":40,"height":40,"fit":"cover","format":"png"}"#,
        r#"{"name":"d","width":30,"height":50,"fit":"contain","format":"png"}"#,
        r#"{"name":"e","format":"png"}"#,
    ];
    let together = run_with(
        &png,
        &format!(r#"{{"outputs":[{}]}}"#, outputs.join(",")),
        &Limits::default(),
    )
    .unwrap();
    for (i, spec) in outputs.iter().enumerate() {
        let alone = run_with(
            &png,
            &format!(r#"{{"outputs":[{spec}]}}"#),
            &Limits::default(),
        )
        .unwrap();
        let (a, b) = (
            decode(alone.outputs[0].data.as_ref().unwrap()),
            decode(together.outputs[i].data.as_ref().unwrap()),
        );
        assert_eq!(a.dimensions(), b.dimensions(), "{spec}");
        let worst = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap();
        // Resampling from an intermediate at >= 2x the resolution: close, not always
        // equal (on this noise the worst pixel is 3 levels off).
        assert!(worst <= 6, "{spec}: max difference {worst}");
    }
}

#[test]
fn a_recipe_is_validated_once_at_the_door_and_an_invalid_one_is_one_outcome() {
    use conveyor::{Job, OutputFormat, OutputSpec, Pool, ValidRecipe};
    let pool = Pool::builder().workers(1).build().unwrap();
    // An invalid recipe given to a job: validated when given, failed as its outcome.
    let bad = Recipe::new(vec![OutputSpec::new("a", OutputFormat::Png).size(0, 5)]);
    let job = Job::new(common::png(8, 8)).with_recipe(bad.clone());
    assert_eq!(job.recipe(), Some(&bad));
    let e = pool.submit(job).unwrap().wait().result.unwrap_err();
    assert_eq!(
        (e.kind, e.stage),
        (ErrorKind::InvalidRecipe, Some(Stage::Validate))
    );
    assert!(e.message.contains("outputs[0].width"), "{}", e.message);
    // A validated recipe, shared by many jobs.
    let valid =
        ValidRecipe::from_json(r#"{"outputs":[{"name":"t","width":4,"format":"png"}]}"#).unwrap();
    let tickets: Vec<_> = (0..3)
        .map(|_| {
            let job = Job::new(common::png(8, 8)).with_valid_recipe(valid.clone());
            pool.submit(job).unwrap()
        })
        .collect();
    for t in tickets {
        let report = t.wait().result.unwrap();
        assert_eq!((report.outputs[0].width, report.outputs[0].height), (4, 4));
    }
    assert!(ValidRecipe::try_from(bad).is_err());
}
