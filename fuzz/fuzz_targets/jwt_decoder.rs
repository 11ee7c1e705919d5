#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spine_sandbox::fuzzing::jwt_decoder(data);
});
