//! Relative paths in a config file are taken from the file's directory, so a config works
//! the same from any working directory. [`from_config_dir`] is the one rule; the loader applies
//! it to the files it reads itself (`${file:PATH}` secrets, `connector` files) and, in
//! [`make_relative`], to every path setting of the parsed config.

use std::path::{Path, PathBuf};

use super::{Config, SinkConfig, StateConfig};

/// `path` as the loader uses it: joined to `base` (the config file's directory) when it is
/// relative and the file's directory is known; as written otherwise.
pub(super) fn from_config_dir(base: Option<&Path>, path: &Path) -> PathBuf {
    match base {
        Some(base) if path.is_relative() => base.join(path),
        _ => path.to_path_buf(),
    }
}

/// Every path setting of `config`, taken from `base` when relative, in one pass. A new path
/// setting adds itself here.
pub(super) fn make_relative(config: &mut Config, base: &Path) {
    let mut paths: Vec<&mut PathBuf> = Vec::new();
    if let StateConfig::Sqlite { path, .. } = &mut config.state {
        paths.push(path);
    }
    for source in &mut config.sources {
        let http = &mut source.http;
        paths.extend(
            [
                &mut http.ca_file,
                &mut http.client_cert,
                &mut http.client_key,
            ]
            .into_iter()
            .flatten(),
        );
    }
    if let Some(dead_letter) = &mut config.dead_letter {
        paths.push(&mut dead_letter.path);
    }
    for sink in &mut config.sinks {
        let file = match sink {
            SinkConfig::Lake(lake) => Some(&mut lake.path),
            SinkConfig::Http(http) => http.ca_file.as_mut(),
            SinkConfig::SplunkHec(hec) => hec.ca_file.as_mut(),
            SinkConfig::Elasticsearch(es) => es.ca_file.as_mut(),
            _ => None,
        };
        paths.extend(file);
    }
    for path in paths {
        *path = from_config_dir(Some(base), path);
    }
}
