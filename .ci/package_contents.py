"""What `cargo package` ships for the library: reads `cargo package --list`
on stdin and fails if a file outside the allowed set is shipped, or if a
file a user needs is missing.
"""
import fnmatch, sys

files = [l.strip() for l in sys.stdin if l.strip()]
allowed = ["Cargo.toml", "Cargo.toml.orig", "Cargo.lock", ".cargo_vcs_info.json", "README.md",
           "LICENSE", "CHANGELOG.md", "docs/wire.md", "src/*.rs", "examples/*.rs"]
needed = ["Cargo.toml", "README.md", "LICENSE", "CHANGELOG.md", "src/lib.rs", "docs/wire.md"]
extra = [f for f in files if not any(fnmatch.fnmatch(f, a) for a in allowed)]
missing = [f for f in needed if f not in files]
print(f"{len(files)} files shipped")
for f in extra:
    print("  not for users:", f)
for f in missing:
    print("  missing:", f)
sys.exit(1 if extra or missing else 0)
