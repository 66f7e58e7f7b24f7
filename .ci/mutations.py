"""Mutation check: breaks one behaviour of the crate at a time and runs the
tests that guard it; each must fail. Not part of .ci/run (about 30 minutes).

Usage: python3 .ci/mutations.py [PREFIX ...]   (e.g. M3 M7; default: all)
Run it on a clean work tree: each mutated file is restored with
`git checkout`, which also drops uncommitted edits to it.
"""
import os, signal, subprocess, sys
M = [
 ("M1 empty text (Python fault 2)", "src/decoder.rs",
  "        // The first byte is part of the text: left for the text state.\n",
  "        Some(&ALL_END) => Step::stop(1, State::Text { len: 0 }, Found::StartText),\n",
  ["empty_text"]),
 ("M2 abort keeps temp file", "src/processor.rs",
  "        self.state = Msg::Idle;\n    }\n}",
  "        std::mem::forget(std::mem::replace(&mut self.state, Msg::Idle));\n    }\n}",
  ["temp_files", "truncation"]),
 ("M3 no body limit", "src/decoder.rs",
  "    if header.body_size > limits.max_body_size {",
  "    if false && header.body_size > limits.max_body_size {",
  ["limits"]),
 ("M4 no coalescing", "src/send.rs",
  "            data = &data[n..];\n        }\n        Ok(())",
  "            data = &data[n..];\n            self.write_block(sender)?;\n        }\n        Ok(())",
  ["sender"]),
 ("M5 no surplus probe", "src/send.rs",
  "        if generate(&mut generator, &mut probe)? != 0 {",
  "        if false && generate(&mut generator, &mut probe)? != 0 {",
  ["sender"]),
 ("M6 Interrupted not retried", "src/receive.rs",
  "                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,\n                Err(e) => return Err(Error::Io(e)),",
  "                Err(e) => return Err(Error::Io(e)),",
  ["io_errors"]),
 ("M7 exact mode reads past text", "src/decoder.rs",
  "            State::Marker | State::Text { .. } => 1,",
  "            State::Marker => 1,\n            State::Text { .. } => 4096,",
  ["consecutive", "empty_text"]),
 ("M8 UTF-8 per chunk", "src/processor.rs",
  "            Msg::Text(text) => {\n",
  "            Msg::Text(text) => {\n                std::str::from_utf8(data).map_err(|e| Error::InvalidUtf8 { section: Section::Text, source: e })?;\n",
  ["utf8"]),
 ("M9 text EOF accepted", "src/decoder.rs",
  "            State::Text { len } => (Section::Text, len + 1, *len),",
  "            State::Text { .. } => return Ok(()),",
  ["truncation"]),
 ("M10 no receive progress", "src/receive.rs",
  "        if let Some(f) = self.progress.as_mut() {\n            if let Some(progress) = self.decoder.progress() {",
  "        if let Some(f) = self.progress.as_mut().filter(|_| false) {\n            if let Some(progress) = self.decoder.progress() {",
  ["progress"]),
 ("M11 sent file fd leaked", "src/send.rs",
  "        Self::from_file(File::open(path)?)",
  "        let f = File::open(path)?; std::mem::forget(f.try_clone()?); Self::from_file(f)",
  ["sender"]),
 ("M12 meta allocated as announced", "src/decoder.rs",
  "        bytes: Vec::with_capacity(size.min(META_RESERVE)),",
  "        bytes: Vec::with_capacity(size),",
  ["huge_headers"]),
 ("M13 short generator not detected", "src/send.rs",
  "            if n == 0 {\n                return Err(Error::BodySizeMismatch {",
  "            if n == 0 {\n                break;\n            }\n            if n == 0 {\n                return Err(Error::BodySizeMismatch {",
  ["sender"]),
 ("M14 checksum not verified", "src/decoder.rs",
  "    if footer.checksum != crc {",
  "    if false && footer.checksum != crc {",
  ["hostile_input", "temp_files"]),
 ("M15 read buffer kept after an exchange", "src/receive.rs",
  "        if self.buf.len() > INITIAL_BUFFER && rest <= INITIAL_BUFFER {",
  "        if false && self.buf.len() > INITIAL_BUFFER && rest <= INITIAL_BUFFER {",
  ["idle_memory"]),
 ("M16 send buffer kept after an exchange", "src/send.rs",
  "        if self.buf.len() > INITIAL_BUFFER {",
  "        if false && self.buf.len() > INITIAL_BUFFER {",
  ["idle_memory"]),
 ("M17 Connection without read-ahead", "src/connection.rs",
  "            inbound: Inbound::new(true, buffered),",
  "            inbound: Inbound::new(false, buffered),",
  ["connection"]),
 ("M18 reads never grow", "src/receive.rs",
  "            self.window = self.window.saturating_mul(2).min(self.block_size);",
  "            self.window = self.window.min(self.block_size);",
  ["connection"]),
 ("M19 scan misses a match in a block's last word", "src/wire.rs",
  "    let tail = words.remainder();",
  "    let tail = &words.remainder()[..0];",
  ["utf8", "round_trip", "consecutive"]),
 ("M20 finalize without the checksum", "src/decoder.rs",
  "    let end = End::binary(crc);",
  "    let end = End::text();",
  ["round_trip"]),
 ("M21 job zip without folder entries", "tools/src/jobs.rs",
  "        zip.add_directory(format!(\"{entry}/\"), options)\n            .map_err(|e| fail(&e))?;",
  "",
  ["lib", "admin_nvflare"]),
 ("M22 subfolder signatures over the wrong bytes", "tools/src/jobs.rs",
  "        signatures.insert(name.clone(), Value::from(sign(key, name.as_bytes())));",
  "        signatures.insert(name.clone(), Value::from(sign(key, b\"\")));",
  ["admin_nvflare"]),
 ("M23 server name not checked", "tools/src/bin/nvflare-admin/main.rs",
  "        server_name: cli.server_name.clone().unwrap_or_else(|| host.clone()),",
  "        server_name: kit.host.clone(),",
  ["admin_nvflare"]),
 ("M24 client certificates not required", "tools/src/tls.rs",
  "        .with_client_cert_verifier(verifier)",
  "        .with_no_client_auth()",
  ["hci_tls"]),
 ("M25 handshake deadline per read, not in all", "tools/src/tls.rs",
  "        let left = self.deadline.saturating_duration_since(Instant::now());",
  "        let left = self.deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(30));",
  ["hci_tls"]),
 ("M26 no connection cap", "tools/src/hci/mod.rs",
  "            if active.load(Ordering::SeqCst) >= self.config.max_connections {",
  "            if false && active.load(Ordering::SeqCst) >= self.config.max_connections {",
  ["hci_tls"]),
 ("M27 spool directory not re-created", "tools/src/hci/mod.rs",
  "    if let Err(e) = fs::create_dir_all(&spool) {",
  "    if let Err(e) = fs::metadata(&spool) {",
  ["hci_tls"]),
]
only = sys.argv[1:]
for name, path, old, new, tests in M:
    if only and not any(name.startswith(o) for o in only): continue
    s = open(path).read()
    assert old in s, name
    open(path, 'w').write(s.replace(old, new, 1))
    # Integration tests of either package (the root's default members); "lib"
    # is the packages' unit tests. Cargo builds a package's binaries, from
    # the mutated source, for its integration tests.
    args = ["cargo", "test", "--no-fail-fast"] + sum([["--lib"] if t == "lib" else ["--test", t] for t in tests], [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the test binaries too
        proc.communicate()
        print(f"{name}: CAUGHT (tests hung)", flush=True)
        subprocess.run(["git", "checkout", "--", path])
        continue
    r = proc
    failed = [l for l in out.splitlines() if l.startswith("test ") and l.endswith("FAILED")]
    compiled = "error[" not in out
    print(f"{name}: {'CAUGHT' if r.returncode != 0 and compiled and failed else 'NOT CAUGHT'} ({len(failed)} failing: {', '.join(l.split()[1] for l in failed[:4])})", flush=True)
    if not compiled: print(out[-2000:])
    subprocess.run(["git", "checkout", "--", path])
