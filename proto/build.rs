//! Compiles the suite's protos with protox (pure Rust: no system `protoc`), generates
//! tonic/prost code, and writes the encoded descriptor set (custom options kept) for
//! gRPC reflection and the gateway's REST transcoding.

use std::path::PathBuf;

/// Every `.proto` under `cadre/`: a new file needs no change here.
fn protos(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=cadre");
    println!("cargo:rerun-if-changed=google");
    let mut compiler = protox::Compiler::new(["."])?;
    compiler.include_imports(true);
    compiler.include_source_info(true);
    let mut files = Vec::new();
    protos(std::path::Path::new("cadre"), &mut files)?;
    files.sort();
    compiler.open_files(files)?;

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // `encode_file_descriptor_set` keeps extension options (our HTTP rules), which a
    // round trip through prost_types would drop.
    std::fs::write(out_dir.join("cadre_descriptor.bin"), compiler.encode_file_descriptor_set())?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
