//! NVFlare's authorization policy (`authorization.json`, format 1.0), read
//! and evaluated as `nvflare.fuel.sec.authz` does: a role holds rights, a
//! right is a command or a category of commands, and its conditions are
//! `any`, `none`, `o:site|submitter|ORG`, `n:submitter|NAME`, `not X`, or a
//! list of them (any allowed one and no blocked one).

use std::collections::HashMap;

use serde_json::Value;

/// The categories of the commands this server has (`security/security.py`).
pub fn category(command: &str) -> Option<&'static str> {
    Some(match command {
        "abort_job" | "delete_job" => "manage_job",
        "check_status" | "show_stats" | "show_errors" | "list_jobs" | "get_job_meta" => "view",
        "download_job" | "download_job_file" => "download_job",
        _ => return None,
    })
}

const CATEGORIES: [&str; 3] = ["manage_job", "view", "download_job"];

/// The commands of a category.
fn commands_of(category: &str) -> impl Iterator<Item = &'static str> + '_ {
    [
        "abort_job",
        "delete_job",
        "check_status",
        "show_stats",
        "show_errors",
        "list_jobs",
        "get_job_meta",
        "download_job",
        "download_job_file",
    ]
    .into_iter()
    .filter(move |c| self::category(c) == Some(category))
}

fn normalize(s: &str) -> String {
    s.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Clone)]
enum Cond {
    Any,
    Never,
    Org(String),
    Name(String),
}

#[derive(Debug, Clone, Default)]
struct Conds {
    allowed: Vec<Cond>,
    blocked: Vec<Cond>,
}

/// A person, as the policy sees one: name, org and role.
#[derive(Debug, Clone, Default)]
pub struct Person {
    /// User name.
    pub name: String,
    /// Organisation.
    pub org: String,
    /// Role.
    pub role: String,
}

impl Person {
    /// A person, normalized as NVFlare does (lower case, single spaces).
    pub fn new(name: &str, org: &str, role: &str) -> Person {
        Person {
            name: normalize(name),
            org: normalize(org),
            role: normalize(role),
        }
    }

    /// The person a certificate names.
    pub fn of(identity: &super::identity::Identity) -> Person {
        Person::new(&identity.name, &identity.org, &identity.role)
    }
}

impl Cond {
    fn parse(exp: &str) -> Result<(bool, Cond), String> {
        let v = normalize(exp);
        let parts: Vec<&str> = v.split(' ').collect();
        let (blocked, v) = match parts.as_slice() {
            ["not", x] => (true, x.to_string()),
            _ => (false, v.clone()),
        };
        let cond = match v.as_str() {
            "all" | "any" => Cond::Any,
            "none" | "no" => Cond::Never,
            _ => match v.split(':').collect::<Vec<_>>().as_slice() {
                [kind, value] => match normalize(kind).as_str() {
                    "o" | "org" => Cond::Org(normalize(value)),
                    "n" | "name" => Cond::Name(normalize(value)),
                    other => {
                        return Err(format!(
                            "bad condition expression \"{exp}\": invalid type \"{other}\""
                        ))
                    }
                },
                _ => return Err(format!("bad condition expression \"{exp}\"")),
            },
        };
        Ok((blocked, cond))
    }

    fn matches(&self, site_org: &str, user: &Person, submitter: &Person) -> bool {
        match self {
            Cond::Any => true,
            Cond::Never => false,
            Cond::Org(t) if t == "site" => user.org == site_org,
            Cond::Org(t) if t == "submitter" => user.org == submitter.org,
            Cond::Org(t) => &user.org == t,
            Cond::Name(t) if t == "submitter" => user.name == submitter.name,
            Cond::Name(t) => &user.name == t,
        }
    }
}

impl Conds {
    fn parse(exp: &Value) -> Result<Conds, String> {
        let mut conds = Conds::default();
        let list: Vec<&str> = match exp {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) if items.is_empty() => {
                return Err("bad condition expression - no conditions specified".into())
            }
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().ok_or(format!("bad condition expression {i}")))
                .collect::<Result<_, _>>()?,
            other => return Err(format!("bad condition expression type: {other}")),
        };
        for exp in list {
            let (blocked, cond) = Cond::parse(exp)?;
            if blocked {
                conds.blocked.push(cond);
            } else {
                conds.allowed.push(cond);
            }
        }
        Ok(conds)
    }

    fn evaluate(&self, site_org: &str, user: &Person, submitter: &Person) -> bool {
        let any = |list: &[Cond]| list.iter().any(|c| c.matches(site_org, user, submitter));
        if any(&self.blocked) {
            return false;
        }
        self.allowed.is_empty() || any(&self.allowed)
    }
}

/// An authorization policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// (role, right) → conditions; right `*` for all.
    rights: HashMap<(String, String), Conds>,
    site_org: String,
}

impl Policy {
    /// Parses a policy's JSON text; `site_org` is the server's organisation.
    pub fn parse(text: &str, site_org: &str) -> Result<Policy, String> {
        let config: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if config["format_version"] != "1.0" {
            return Err("missing or invalid policy format_version: must be 1.0".into());
        }
        let Some(permissions) = config["permissions"].as_object().filter(|p| !p.is_empty()) else {
            return Err("missing permissions".into());
        };
        let mut rights = HashMap::new();
        for (role, conf) in permissions {
            let role = normalize(role);
            match conf {
                Value::String(_) | Value::Array(_) => {
                    rights.insert((role, "*".to_owned()), Conds::parse(conf)?);
                }
                Value::Object(map) => {
                    // Categories first; rights named alone override them.
                    for (right, exp) in map {
                        let right = normalize(right);
                        if CATEGORIES.contains(&right.as_str()) {
                            let conds = Conds::parse(exp)?;
                            for command in commands_of(&right) {
                                rights.insert((role.clone(), command.to_owned()), conds.clone());
                            }
                        }
                    }
                    for (right, exp) in map {
                        let right = normalize(right);
                        if !CATEGORIES.contains(&right.as_str()) {
                            rights.insert((role.clone(), right), Conds::parse(exp)?);
                        }
                    }
                }
                other => return Err(format!("bad right config for {role}: {other}")),
            }
        }
        Ok(Policy {
            rights,
            site_org: normalize(site_org),
        })
    }

    /// Whether `user` may run `command` on a job of `submitter` (an empty
    /// person when no job is involved).
    pub fn allows(&self, command: &str, user: &Person, submitter: &Person) -> bool {
        let key = |right: &str| (user.role.clone(), right.to_owned());
        let conds = self
            .rights
            .get(&key("*"))
            .or_else(|| self.rights.get(&key(command)));
        conds.is_some_and(|c| c.evaluate(&self.site_org, user, submitter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy `nvflare provision` writes by default.
    pub const DEFAULT: &str = r#"{
    "format_version": "1.0",
    "permissions": {
      "project_admin": "any",
      "org_admin": {"submit_job": "none", "clone_job": "none", "manage_job": "o:submitter",
        "download_job": "o:submitter", "view": "any", "operate": "o:site",
        "shell_commands": "o:site", "byoc": "none"},
      "lead": {"submit_job": "any", "clone_job": "n:submitter", "manage_job": "n:submitter",
        "download_job": "n:submitter", "view": "any", "operate": "o:site",
        "shell_commands": "o:site", "byoc": "any"},
      "member": {"view": "any"}
    }}"#;

    #[test]
    fn the_default_policy_as_nvflare_applies_it() {
        let p = Policy::parse(DEFAULT, "nvidia").unwrap();
        let sub = Person::new("lead@a.org", "a", "lead");
        let none = Person::default();
        let admin = Person::new("admin@x", "x", "project_admin");
        let org_a = Person::new("oa@a.org", "A", "org_admin");
        let org_b = Person::new("ob@b.org", "b", "org_admin");
        let lead = Person::new("lead@a.org", "a", "lead");
        let lead2 = Person::new("lead2@a.org", "a", "lead");
        let member = Person::new("m@a.org", "a", "member");
        let stranger = Person::new("s", "a", "janitor");
        for c in [
            "submit_job",
            "clone_job",
            "abort_job",
            "download_job_file",
            "list_jobs",
        ] {
            assert!(p.allows(c, &admin, &sub), "{c}");
        }
        assert!(!p.allows("submit_job", &org_a, &none));
        assert!(!p.allows("clone_job", &org_a, &sub));
        assert!(p.allows("delete_job", &org_a, &sub));
        assert!(p.allows("download_job", &org_a, &sub));
        assert!(!p.allows("delete_job", &org_b, &sub));
        assert!(p.allows("get_job_meta", &org_b, &sub));
        assert!(p.allows("submit_job", &lead, &none));
        assert!(p.allows("clone_job", &lead, &sub));
        assert!(!p.allows("clone_job", &lead2, &sub));
        assert!(!p.allows("abort_job", &lead2, &sub));
        assert!(p.allows("check_status", &lead2, &none));
        assert!(!p.allows("submit_job", &member, &none));
        assert!(!p.allows("download_job", &member, &sub));
        assert!(p.allows("list_jobs", &member, &none));
        assert!(!p.allows("list_jobs", &stranger, &none));
    }

    #[test]
    fn lists_and_negation() {
        let p = Policy::parse(
            r#"{"format_version": "1.0", "permissions": {"r": {"view": ["not o:evil", "n:bob", "o:good"]}}}"#,
            "site",
        )
        .unwrap();
        let none = Person::default();
        assert!(p.allows("list_jobs", &Person::new("bob", "x", "r"), &none));
        assert!(p.allows("list_jobs", &Person::new("al", "good", "r"), &none));
        assert!(!p.allows("list_jobs", &Person::new("bob", "evil", "r"), &none));
        assert!(!p.allows("list_jobs", &Person::new("al", "x", "r"), &none));
        assert!(Policy::parse(r#"{"format_version": "2"}"#, "s").is_err());
        assert!(Policy::parse(
            r#"{"format_version": "1.0", "permissions": {"r": "q:x"}}"#,
            "s"
        )
        .is_err());
    }
}
