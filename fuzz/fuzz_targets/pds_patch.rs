#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spine_sandbox::fuzzing::pds_patch(data);
});
