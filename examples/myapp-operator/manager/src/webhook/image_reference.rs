// Copyright the project authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//! Container image references, checked the way container registries and the
//! kubelet read them (the grammar of the distribution project's `reference`
//! package): `[registry[:port]/]path[:tag][@algorithm:hex]`.
//!
//! A CRD pattern could express most of this, but not the warnings: an image
//! with no tag and no digest, or with `latest`, is admitted with a warning
//! to pin a version, which only a webhook can send.

/// What is wrong with a reference, said for `spec.image`.
pub type Problem = String;

/// A reference's parts, once it is known to be valid.
#[derive(Debug, PartialEq, Eq)]
pub struct Reference<'a> {
    /// The repository, with its registry if one is named.
    pub name: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// Parses `image`, or says which part breaks the grammar and why.
pub fn parse(image: &str) -> Result<Reference<'_>, Problem> {
    if image.is_empty() {
        return Err("must not be empty".into());
    }
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => {
            check_digest(digest)?;
            (rest, Some(digest))
        }
        None => (image, None),
    };
    // A tag follows the last ':' after the last '/', so a registry port
    // (`registry:5000/app`) is not taken for one.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    check_name(name)?;
    Ok(Reference { name, tag, digest })
}

/// Why an otherwise valid reference should be pinned, if it should.
pub fn pin_warning(image: &str, reference: &Reference<'_>) -> Option<String> {
    match (reference.tag, reference.digest) {
        (_, Some(_)) => None,
        (None, None) => Some(format!(
            "spec.image {image:?} has no tag or digest, so it means `latest`; pin a version (e.g. {}:1.2.3) so every pod runs the same code",
            reference.name
        )),
        (Some("latest"), None) => Some(format!(
            "spec.image {image:?} uses the `latest` tag; pin a version (e.g. {}:1.2.3) so every pod runs the same code",
            reference.name
        )),
        (Some(_), None) => None,
    }
}

fn check_name(name: &str) -> Result<(), Problem> {
    if name.len() > 255 {
        return Err(format!(
            "repository name is {} characters long; at most 255 are allowed",
            name.len()
        ));
    }
    let mut components = name.split('/').peekable();
    // The first component is a registry if it looks like a host: it has a
    // '.' or a ':' (port), or is `localhost`, and more components follow.
    if let Some(first) = components.peek().copied()
        && name.contains('/')
        && (first.contains(['.', ':']) || first == "localhost")
    {
        check_registry(first)?;
        components.next();
    }
    for component in components {
        check_path_component(component)?;
    }
    Ok(())
}

fn check_registry(registry: &str) -> Result<(), Problem> {
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("registry port {port:?} must be a number"));
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if host.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!(
            "registry {host:?} is not a host name (letters, digits and '-', dot-separated)"
        ))
    }
}

fn check_path_component(component: &str) -> Result<(), Problem> {
    let ok = !component.is_empty()
        && component
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && component.starts_with(|c: char| c.is_ascii_alphanumeric())
        && component.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !component.contains("..")
        && !component.contains("___");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "repository path component {component:?} is invalid; allowed: lowercase letters and digits, separated by '.', '_', '__' or dashes"
        ))
    }
}

fn check_tag(tag: &str) -> Result<(), Problem> {
    let ok = (1..=128).contains(&tag.len())
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} is invalid; allowed: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"
        ))
    }
}

fn check_digest(digest: &str) -> Result<(), Problem> {
    let problem = || {
        format!(
            "digest {digest:?} is invalid; allowed: <algorithm>:<hex>, e.g. sha256: and 64 hex digits"
        )
    };
    let (algorithm, hex) = digest.split_once(':').ok_or_else(problem)?;
    let algorithm_ok = algorithm.split(['+', '.', '_', '-']).all(|part| {
        part.starts_with(|c: char| c.is_ascii_alphabetic())
            && part.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if algorithm_ok && hex_ok {
        Ok(())
    } else {
        Err(problem())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:6d0d3f6a4b1e0f1d9c1e2b3a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f";

    #[test]
    fn valid_references() {
        for (image, name, tag, digest) in [
            ("nginx", "nginx", None, None),
            ("nginx:1.27", "nginx", Some("1.27"), None),
            (
                "library/nginx:latest",
                "library/nginx",
                Some("latest"),
                None,
            ),
            (
                "registry.example.com:5000/team/app:v2.1",
                "registry.example.com:5000/team/app",
                Some("v2.1"),
                None,
            ),
            ("localhost/app", "localhost/app", None, None),
            (
                "ghcr.io/org/my_app__x-y:1",
                "ghcr.io/org/my_app__x-y",
                Some("1"),
                None,
            ),
        ] {
            assert_eq!(parse(image), Ok(Reference { name, tag, digest }), "{image}");
        }
        let pinned = format!("nginx@{DIGEST}");
        assert_eq!(parse(&pinned).unwrap().digest, Some(DIGEST));
        let both = format!("nginx:1.27@{DIGEST}");
        assert_eq!(parse(&both).unwrap().tag, Some("1.27"));
    }

    #[test]
    fn invalid_references_say_which_part_is_wrong() {
        for (image, part) in [
            ("", "empty"),
            ("Nginx:1", "path component \"Nginx\""),
            ("nginx:", "tag \"\""),
            ("nginx:-x", "tag \"-x\""),
            ("nginx@sha256:abc", "digest"),
            ("registry:port/app", "port \"port\""),
            ("a//b", "path component \"\""),
            ("app/", "path component \"\""),
            ("bad_host.com/app", "registry \"bad_host.com\""),
        ] {
            let problem = parse(image).unwrap_err();
            assert!(problem.contains(part), "{image:?}: {problem}");
        }
    }

    #[test]
    fn unpinned_images_get_a_warning() {
        for image in ["nginx", "nginx:latest", "registry.local:5000/app"] {
            let reference = parse(image).unwrap();
            let warning = pin_warning(image, &reference).unwrap();
            assert!(warning.contains("pin a version"), "{warning}");
        }
        for image in ["nginx:1.27".to_string(), format!("nginx@{DIGEST}")] {
            assert_eq!(
                pin_warning(&image, &parse(&image).unwrap()),
                None,
                "{image}"
            );
        }
    }
}
