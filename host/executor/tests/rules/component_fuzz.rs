//! Contract components come from organisations' install transactions: damaged
//! or arbitrary bytes are refused by the install check (or, if still valid,
//! compiled and instantiated) without panicking, and with the same answer
//! every time (issue 11, point 10).

use crate::support::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn damaged_or_arbitrary_components_are_refused_or_compile_the_same_every_time(
        at in any::<usize>(), flip in 1u8.., cut in any::<bool>(),
        noise in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let c = Chain::new(&["stmarys"]);
        let vm = c.exec.code_cache().vm().clone();
        let mut bad = phr_contracts::RUNAWAY.to_vec();
        let i = at % bad.len();
        if cut { bad.truncate(i) } else { bad[i] ^= flip }
        let mut headed = b"\0asm\x0d\0\x01\0".to_vec();
        headed.extend_from_slice(&noise);
        for bytes in [&bad, &noise, &headed] {
            let first = vm.inspect(bytes).map(|f| f.code_hash).map_err(|e| e.receipt_message());
            let again = vm.inspect(bytes).map(|f| f.code_hash).map_err(|e| e.receipt_message());
            prop_assert_eq!(&first, &again);
            if first.is_ok() {
                let a = vm.compile(bytes).map(|_| ()).map_err(|e| e.receipt_message());
                let b = vm.compile(bytes).map(|_| ()).map_err(|e| e.receipt_message());
                prop_assert_eq!(a, b);
            }
        }
    }
}
