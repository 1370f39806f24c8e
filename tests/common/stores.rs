//! Other tools' model stores laid out in a scratch directory, as Ollama
//! lays out its own, with the bundled models' files linked in.

use std::path::Path;

/// Puts `src` at `dst` without copying when the filesystem allows (a hard
/// link), else as a copy: stores hold regular files.
pub fn place(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    if std::fs::hard_link(src, dst).is_err() {
        std::fs::copy(src, dst).unwrap();
    }
}

/// An Ollama store at `root` with `name:tag` whose model layer is `blob`
/// (stored under `digest`, which is normally the blob's own sha256).
pub fn ollama_model(root: &Path, name: &str, tag: &str, blob: &Path, digest: &str) {
    let size = std::fs::metadata(blob).unwrap().len();
    place(blob, &root.join("blobs").join(format!("sha256-{digest}")));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": format!("sha256:{}", "0".repeat(64)), "size": 2},
        "layers": [{"mediaType": "application/vnd.ollama.image.model",
                    "digest": format!("sha256:{digest}"), "size": size}]
    });
    let dir = root.join("manifests/registry.ollama.ai/library").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(tag), manifest.to_string()).unwrap();
}
