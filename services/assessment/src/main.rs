//! `cadre-assessment`: the assessment service alone, configured like every part
//! (defaults ← `CADRE_CONFIG` file ← `CADRE__…` variables). Same as `cadre serve assessment`.

use std::path::PathBuf;

use cadre_kit::config::Settings;
use cadre_kit::part::Part;
use cadre_kit::shutdown::{Shutdown, cancel_on_signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let file = std::env::var_os("CADRE_CONFIG").map(PathBuf::from);
    let part = cadre_assessment::Assessment;
    // The roster's section too: where assessment finds it (`roster.endpoints`).
    let settings = Settings::load(file.as_deref(), &[part.name(), "roster"])?;
    let _telemetry = cadre_kit::telemetry::init(&settings.telemetry, "cadre-assessment")?;
    let shutdown = Shutdown::new();
    cancel_on_signal(shutdown.clone());
    cadre_kit::node::serve_alone(&part, settings, shutdown).await?;
    Ok(())
}
