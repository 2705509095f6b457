//! Host-side bindings of the chaincode WIT worlds.

pub(crate) mod plain {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "contract",
    });
}

pub(crate) mod upgradable {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "upgradable-contract",
        with: { "phr:chaincode/types": super::plain::phr::chaincode::types },
    });
}

pub(crate) use plain::phr::chaincode::types;
