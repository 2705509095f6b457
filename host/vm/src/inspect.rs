//! The install check: everything about a component that can be decided
//! without compiling it, quickly and identically on every node.

use crate::compile::{CompileError, ALLOWED_IMPORTS};
use crate::host::HostEnv;
use crate::limits::install as lim;
use crate::Vm;
use phr_ledger::{sha256, Hash32};
use wasmparser::{ComponentExternalKind, ComponentTypeRef, Encoding, Operator, Parser, Payload, TypeBounds, Validator};

/// What the install check learnt about a component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeFacts {
    pub code_hash: Hash32,
    pub size: usize,
    pub modules: usize,
    pub functions: u64,
    /// The estimated compile cost ([`crate::limits::install::MAX_COMPILE_COST`])
    /// of the whole component, and of its costliest function.
    pub compile_cost: u64,
    pub max_function_cost: u64,
    /// Whether it exports `migrate`.
    pub has_migrate: bool,
}

fn over(what: String) -> CompileError {
    CompileError::OverLimit(what)
}

impl<E: HostEnv> Vm<E> {
    /// Check a component for installation: size, validity under the engine's
    /// exact set of Wasm features, the limits in [`crate::limits::install`], only
    /// our imports, and the `invoke` and `query` exports. Linear in the size of
    /// the component; no compilation. The full type check against the world
    /// happens when the component is compiled.
    pub fn inspect(&self, bytes: &[u8]) -> Result<CodeFacts, CompileError> {
        let max = self.config.max_code_bytes;
        if bytes.len() > max {
            return Err(CompileError::TooLarge { size: bytes.len(), max });
        }
        Validator::new_with_features(crate::config::features())
            .validate_all(bytes)
            .map_err(|e| CompileError::Invalid(e.to_string()))?;
        let page = 64 * 1024u64;
        let memory_pages = self.config.memory_limit_bytes as u64 / page;
        let mut facts = CodeFacts {
            code_hash: sha256(&[bytes]),
            size: bytes.len(),
            modules: 0,
            functions: 0,
            compile_cost: 0,
            max_function_cost: 0,
            has_migrate: false,
        };
        let mut exports = Vec::new();
        // What each open `Version ... End` is: a component or a core module.
        let mut stack: Vec<Encoding> = Vec::new();
        let (mut module_functions, mut module_data) = (0u64, 0usize);
        for payload in Parser::new(0).parse_all(bytes) {
            let payload = payload.map_err(|e| CompileError::Invalid(e.to_string()))?;
            let at_root = stack.len() == 1 && stack[0] == Encoding::Component;
            match payload {
                Payload::Version { encoding, .. } => {
                    if stack.is_empty() && encoding != Encoding::Component {
                        return Err(CompileError::Invalid("this is a core module, not a component".into()));
                    }
                    if encoding == Encoding::Module {
                        facts.modules += 1;
                        if facts.modules > lim::MAX_MODULES {
                            return Err(over(format!("more than {} core modules", lim::MAX_MODULES)));
                        }
                        (module_functions, module_data) = (0, 0);
                    }
                    stack.push(encoding);
                }
                Payload::ComponentSection { .. } => {
                    return Err(CompileError::WrongWorld("nested components are not allowed".into()));
                }
                Payload::End(_) => {
                    stack.pop();
                }
                Payload::ComponentImportSection(reader) if at_root => {
                    for import in reader {
                        let import = import.map_err(|e| CompileError::Invalid(e.to_string()))?;
                        // A type equal to one already known (what a world's `use`
                        // becomes) grants nothing; every other import must be
                        // one of our interfaces, by its plain name.
                        if matches!(import.ty, ComponentTypeRef::Type(TypeBounds::Eq(_))) {
                            continue;
                        }
                        let name = import.name;
                        let plain =
                            name.implements.is_none() && name.version_suffix.is_none() && name.external_id.is_none();
                        let instance = matches!(import.ty, ComponentTypeRef::Instance(_));
                        if !plain || !instance || !ALLOWED_IMPORTS.contains(&name.name) {
                            return Err(CompileError::ForbiddenImport(name.name.to_string()));
                        }
                    }
                }
                Payload::ComponentExportSection(reader) if at_root => {
                    for export in reader {
                        let export = export.map_err(|e| CompileError::Invalid(e.to_string()))?;
                        if export.kind == ComponentExternalKind::Func {
                            exports.push(export.name.name.to_string());
                        }
                    }
                }
                Payload::FunctionSection(reader) => {
                    module_functions += reader.count() as u64;
                    facts.functions += reader.count() as u64;
                    if module_functions > lim::MAX_FUNCTIONS {
                        return Err(over(format!("a core module defines more than {} functions", lim::MAX_FUNCTIONS)));
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let cost = check_body(&body)?;
                    facts.max_function_cost = facts.max_function_cost.max(cost);
                    facts.compile_cost += cost;
                    if facts.compile_cost > lim::MAX_COMPILE_COST {
                        return Err(over(format!(
                            "the estimated compile cost of the component exceeds {} (see docs/contracts.md)",
                            lim::MAX_COMPILE_COST
                        )));
                    }
                }
                Payload::GlobalSection(reader) if reader.count() as u64 > lim::MAX_GLOBALS => {
                    return Err(over(format!("a core module defines more than {} globals", lim::MAX_GLOBALS)));
                }
                Payload::TableSection(reader) => {
                    for table in reader {
                        let t = table.map_err(|e| CompileError::Invalid(e.to_string()))?.ty;
                        if t.initial > lim::MAX_TABLE_ELEMENTS || t.maximum.is_some_and(|m| m > lim::MAX_TABLE_ELEMENTS)
                        {
                            return Err(over(format!("a table may have at most {} elements", lim::MAX_TABLE_ELEMENTS)));
                        }
                    }
                }
                Payload::MemorySection(reader) => {
                    for memory in reader {
                        let m = memory.map_err(|e| CompileError::Invalid(e.to_string()))?;
                        if m.initial > memory_pages {
                            return Err(over(format!(
                                "a memory starts at {} pages; the limit is {memory_pages} pages ({} bytes)",
                                m.initial, self.config.memory_limit_bytes
                            )));
                        }
                    }
                }
                Payload::DataSection(reader) => {
                    for data in reader {
                        module_data += data.map_err(|e| CompileError::Invalid(e.to_string()))?.data.len();
                    }
                    if module_data > lim::MAX_DATA_BYTES {
                        return Err(over(format!("a core module has more than {} bytes of data", lim::MAX_DATA_BYTES)));
                    }
                }
                _ => {}
            }
        }
        for required in ["invoke", "query"] {
            if !exports.iter().any(|e| e == required) {
                return Err(CompileError::WrongWorld(format!("it does not export the function `{required}`")));
            }
        }
        facts.has_migrate = exports.iter().any(|e| e == "migrate");
        Ok(facts)
    }
}

/// Limits on one function body: size, locals, nesting, `br_table` targets and
/// estimated compile cost. Returns that cost: body bytes plus locals times
/// control-flow points, since the compiler carries every local through every
/// block, loop, branch and call it builds (measured: 4,000 locals live across
/// 400 loops cost seconds to compile).
fn check_body(body: &wasmparser::FunctionBody<'_>) -> Result<u64, CompileError> {
    if body.range().len() > lim::MAX_FUNCTION_BODY_BYTES {
        return Err(over(format!(
            "a function body is {} bytes; the limit is {}",
            body.range().len(),
            lim::MAX_FUNCTION_BODY_BYTES
        )));
    }
    let mut locals = 0u64;
    for l in body.get_locals_reader().map_err(|e| CompileError::Invalid(e.to_string()))? {
        locals += l.map_err(|e| CompileError::Invalid(e.to_string()))?.0 as u64;
        if locals > lim::MAX_LOCALS {
            return Err(over(format!("a function declares more than {} locals", lim::MAX_LOCALS)));
        }
    }
    let mut depth = 0usize;
    let mut control = 0u64;
    let mut ops = body.get_operators_reader().map_err(|e| CompileError::Invalid(e.to_string()))?;
    while !ops.eof() {
        match ops.read().map_err(|e| CompileError::Invalid(e.to_string()))? {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                control += 1;
                depth += 1;
                if depth > lim::MAX_NESTING {
                    return Err(over(format!("blocks nest more than {} deep", lim::MAX_NESTING)));
                }
            }
            Operator::End => depth = depth.saturating_sub(1),
            Operator::BrTable { targets } => {
                if targets.len() > lim::MAX_BR_TABLE_TARGETS {
                    return Err(over(format!("a br_table has more than {} targets", lim::MAX_BR_TABLE_TARGETS)));
                }
                control += 1 + targets.len() as u64;
            }
            Operator::Else
            | Operator::Br { .. }
            | Operator::BrIf { .. }
            | Operator::Call { .. }
            | Operator::CallIndirect { .. } => control += 1,
            _ => {}
        }
    }
    let cost = body.range().len() as u64 + (locals + 1) * control;
    if cost > lim::MAX_FUNCTION_COMPILE_COST {
        return Err(over(format!(
            "a function's estimated compile cost is {cost} (its locals times its blocks, branches and calls); the limit is {}",
            lim::MAX_FUNCTION_COMPILE_COST
        )));
    }
    Ok(cost)
}
