#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spine_sandbox::fuzzing::migrate_parameters(data);
});
