//! `cadre-incentive`: the incentive service alone, configured like every part
//! (defaults ← `CADRE_CONFIG` file ← `CADRE__…` variables). Same as `cadre serve incentive`.

use std::path::PathBuf;

use cadre_kit::config::Settings;
use cadre_kit::part::Part;
use cadre_kit::shutdown::{Shutdown, cancel_on_signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let file = std::env::var_os("CADRE_CONFIG").map(PathBuf::from);
    let part = cadre_incentive::Incentive;
    let settings = Settings::load(file.as_deref(), &[part.name()])?;
    let _telemetry = cadre_kit::telemetry::init(&settings.telemetry, "cadre-incentive")?;
    let shutdown = Shutdown::new();
    cancel_on_signal(shutdown.clone());
    cadre_kit::node::serve_alone(&part, settings, shutdown).await?;
    Ok(())
}
