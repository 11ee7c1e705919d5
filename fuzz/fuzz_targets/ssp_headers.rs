#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spine_sandbox::fuzzing::ssp_headers(data);
});
