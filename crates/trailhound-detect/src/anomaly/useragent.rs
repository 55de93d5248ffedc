//! User-agent normalisation: family and major version, so that patch releases of one tool
//! are one habit.

/// Normalises a user agent to its family and major version: `aws-cli/2.x`, `Boto3/1.x`,
/// `console`, `aws-sdk-go-v2/1.x`, `AWS Internal`. Unknown shapes keep their first token's
/// name with the major version.
///
/// ```
/// use trailhound_detect::anomaly::normalise_user_agent;
/// assert_eq!(normalise_user_agent("aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64"), "aws-cli/2.x");
/// assert_eq!(normalise_user_agent("Boto3/1.34.2 md/Botocore#1.34.2 ua/2.0 os/linux"), "Boto3/1.x");
/// assert_eq!(normalise_user_agent("signin.amazonaws.com"), "console");
/// assert_eq!(normalise_user_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64)"), "browser");
/// ```
#[must_use]
pub fn normalise_user_agent(user_agent: &str) -> String {
    let ua = user_agent.trim().trim_start_matches('[');
    if ua.is_empty() {
        return "none".to_owned();
    }
    let lower = ua.to_ascii_lowercase();
    if lower == "aws internal" || lower.starts_with("aws internal") {
        return "AWS Internal".to_owned();
    }
    if lower.contains("console.amazonaws.com")
        || lower.contains("console.aws.amazon.com")
        || lower.starts_with("signin.amazonaws.com")
        || lower.starts_with("aws-internal/")
    {
        return "console".to_owned();
    }
    if lower.ends_with(".amazonaws.com") {
        return ua.to_owned();
    }
    if lower.starts_with("mozilla/") {
        return "browser".to_owned();
    }
    let first = ua.split_whitespace().next().unwrap_or(ua);
    match first.split_once('/') {
        Some((name, version)) => {
            let major: String = version.chars().take_while(char::is_ascii_digit).collect();
            if major.is_empty() {
                name.to_owned()
            } else {
                format!("{name}/{major}.x")
            }
        }
        None => first.chars().take(40).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(
            normalise_user_agent("aws-cli/1.18.69 Python/2.7"),
            "aws-cli/1.x"
        );
        assert_eq!(
            normalise_user_agent("aws-sdk-go-v2/1.24.1 os/linux"),
            "aws-sdk-go-v2/1.x"
        );
        assert_eq!(normalise_user_agent("AWS Internal"), "AWS Internal");
        assert_eq!(normalise_user_agent("s3.amazonaws.com"), "s3.amazonaws.com");
        assert_eq!(
            normalise_user_agent("[aws-cli/2.0.1 Python/3.7]"),
            "aws-cli/2.x"
        );
        assert_eq!(normalise_user_agent("curl"), "curl");
        assert_eq!(normalise_user_agent(""), "none");
    }
}
