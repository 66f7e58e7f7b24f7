//! A receive's read buffer grows in two steps at most past its first 8 KiB,
//! to 64 KiB and then to the block size, however many times its reads double: one
//! fresh buffer at each doubling split the heap, so that the allocator gave
//! it back to the kernel after each exchange and every receive faulted its
//! pages in again. A counting allocator measures it (one test in this file,
//! so nothing else allocates meanwhile).

mod common;

use std::alloc::System;

use cap::Cap;
use common::{binary_wire, random_bytes};
use nvflare_hci::{Connection, ContentType, DataProcessor, End, Start};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Counts the content and keeps none of it.
struct Count(u64);

impl DataProcessor for Count {
    type Output = u64;
    fn start(&mut self, _: &Start<'_>) -> nvflare_hci::Result<()> {
        self.0 = 0;
        Ok(())
    }
    fn process(&mut self, data: &[u8], _: ContentType) -> nvflare_hci::Result<()> {
        self.0 += data.len() as u64;
        Ok(())
    }
    fn finalize(&mut self, _: &End) -> nvflare_hci::Result<u64> {
        Ok(self.0)
    }
}

#[test]
fn the_read_buffer_grows_in_two_steps() {
    let body = random_bytes(4 << 20, 1);
    let mut text = "x".repeat(1 << 20).into_bytes();
    text.push(nvflare_hci::ALL_END);
    for (what, wire, len) in [
        ("binary", binary_wire(b"m", &body), body.len()),
        ("text", text, 1 << 20),
    ] {
        // From a slice every read comes back full: reads double from 8 KiB
        // to 256 KiB.
        let mut conn = Connection::from_halves(&wire[..], Vec::new());
        let before = ALLOCATOR.total_allocated();
        assert_eq!(conn.receive_and_parse(&mut Count(0)).unwrap(), len as u64);
        let allocated = ALLOCATOR.total_allocated() - before;
        // 8 KiB for the first read, then 64 KiB and 256 KiB, and a few
        // bytes of meta; a buffer per doubling would be 8 + 16 + 32 + 64 +
        // 128 + 256 KiB.
        assert!(
            allocated <= (8 + 64 + 256 + 4) * 1024,
            "{what}: {allocated} bytes allocated"
        );
    }
}
