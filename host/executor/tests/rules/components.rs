//! Hand-made contract components for tests: minimal ones of a given world, and
//! hostile ones (compile-cost bombs, foreign imports, the wrong world). Shared
//! by the executor's rule tests and the end-to-end tests.
#![allow(dead_code)]

/// A component for `wit` (a package with one world), with a body that does nothing.
pub fn component(wit: &str) -> Vec<u8> {
    component_with(wit, "")
}

/// Like [`component`], its core module with the extra WAT fields `extra`.
pub fn component_with(wit: &str, extra: &str) -> Vec<u8> {
    component_edited(wit, |text| {
        if extra.is_empty() {
            return text;
        }
        let open = text.trim_end().strip_suffix(')').unwrap();
        format!("{open}\n{extra})")
    })
}

/// Like [`component`], its core module's text changed by `edit`.
pub fn component_edited(wit: &str, edit: impl Fn(String) -> String) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    resolve.push_str("chaincode.wit", include_str!("../../../../wit/chaincode.wit")).unwrap();
    let pkg = resolve.push_str("test.wit", wit).unwrap();
    let world = resolve.select_world(&[pkg], None).unwrap();
    let mut module = wit_component::dummy_module(
        &resolve,
        world,
        wit_parser::ManglingAndAbi::Legacy(wit_parser::LiftLowerAbi::Sync),
    );
    let text = wasmprinter::print_bytes(&module).unwrap();
    module = wat::parse_str(edit(text)).unwrap();
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8).unwrap();
    wit_component::ComponentEncoder::default().module(&module).unwrap().validate(true).encode().unwrap()
}

/// A component of our world whose core module also holds `extra`.
pub fn contract_with(extra: &str) -> Vec<u8> {
    component_with(&format!("package test:plain; world w {{ import phr:chaincode/host@0.2.0; {OUR_EXPORTS} }}"), extra)
}

/// The exports of our `contract` world, for test worlds.
pub const OUR_EXPORTS: &str = "
    use phr:chaincode/types@0.2.0.{error};
    export invoke: func(method: string, args: string) -> result<string, error>;
    export query: func(method: string, args: string) -> result<string, error>;
";

/// Functions that would make Cranelift work long, each over one compile-cost limit.
pub fn compile_bombs() -> Vec<(&'static str, String)> {
    vec![
        ("locals", format!("(func {})", "(local i32) ".repeat(5_000))),
        ("function body", format!("(func {})", "i32.const 0 drop ".repeat(90_000))),
        ("nest", format!("(func {} {})", "block ".repeat(600), "end ".repeat(600))),
        ("br_table", format!("(func block i32.const 0 br_table {} end)", "0 ".repeat(9_000))),
        // Within every limit above, but 2,400 locals live across 400 loops:
        // seconds of Cranelift time for 47 KB of code.
        ("compile cost", live_loops(2_400, 400, 10)),
        // Functions each within the limit, together over the component's.
        ("compile cost of the component", live_loops(1_000, 400, 1).repeat(11)),
    ]
}

/// A function whose `locals` locals stay live across `loops` nested loops, each
/// doing `per` multiplications: what makes compile time grow as locals × loops.
pub fn live_loops(locals: u32, loops: u32, per: u32) -> String {
    let mut b = "(local i64) ".repeat(locals as usize);
    for j in 0..loops {
        b.push_str("loop ");
        for i in 0..per {
            let (x, y, z) = ((j * per + i) % locals, (j * 3 + i * 11) % locals, (j + i * 17) % locals);
            b.push_str(&format!("local.get {x} local.get {y} i64.mul local.set {z} "));
        }
        b.push_str(&format!("local.get {} i32.wrap_i64 br_if 0 ", j % locals));
    }
    b.push_str(&"end ".repeat(loops as usize));
    format!("(func {b})")
}

/// A component importing a WASI-like interface beside ours.
pub fn wasi_importer() -> Vec<u8> {
    component(&format!(
        "package test:wasi;
         interface environment {{ get-environment: func() -> list<tuple<string, string>>; }}
         world w {{ import environment; {OUR_EXPORTS} }}"
    ))
}

/// A component of another world: it exports `run`, not `invoke` and `query`.
pub fn other_world() -> Vec<u8> {
    component("package test:other; world w { export run: func(); }")
}
