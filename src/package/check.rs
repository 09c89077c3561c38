//! Whether a `bootstrap` binary can start on Lambda's `provided.al2023` runtime.
//!
//! A binary is refused, with what to do about it, when Lambda could not start it: not a 64-bit
//! little-endian Linux ELF, built for the other architecture, loaded by an interpreter that the
//! runtime doesn't have (musl, Nix), or linked against symbols newer than the runtime's glibc
//! 2.34 (a binary built on a newer distribution fails at start with
//! "version `GLIBC_2.3x' not found").
//!
//! build.rs shares this file (it checks the package it embeds), so it names its siblings through
//! `super::` and uses no other part of chatctl.

use object::elf;
use serde::Serialize;

use super::arch::Architecture;

/// The glibc of Lambda's `provided.al2023` runtime (Amazon Linux 2023).
pub const LAMBDA_GLIBC: (u32, u32) = (2, 34);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BinaryInfo {
    pub architecture: Architecture,
    pub size: u64,
    /// `static` (no program interpreter, no shared libraries) or `dynamic`.
    pub linkage: Linkage,
    /// The program interpreter (dynamic loader), for a dynamic binary.
    pub interpreter: Option<String>,
    /// The shared libraries it needs (`DT_NEEDED`).
    pub needed: Vec<String>,
    /// The newest glibc symbol version it needs, e.g. `2.34`; `None` when it needs none.
    pub glibc: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Linkage {
    Static,
    Dynamic,
}

/// Why a binary cannot run on Lambda. Every message says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unfit {
    #[error("bootstrap is not a Linux executable: it is {0}; {BUILD_ADVICE}")]
    NotElf(String),
    #[error(
        "bootstrap is {0}, but Lambda runs 64-bit little-endian Linux executables; {BUILD_ADVICE}"
    )]
    NotLinux64(String),
    #[error(
        "bootstrap is built for {found}, but the function's architecture is {}: {advice}",
        expected.as_str()
    )]
    WrongArchitecture {
        found: String,
        expected: Architecture,
        advice: String,
    },
    #[error(
        "bootstrap is loaded by {found}, which Lambda's provided.al2023 runtime doesn't have (it has {expected}): {advice}"
    )]
    ForeignInterpreter {
        found: String,
        expected: &'static str,
        advice: &'static str,
    },
    #[error(
        "bootstrap needs {needed} but Lambda's provided.al2023 has glibc {}.{}: build with `cargo lambda build --release --output-format zip` (zig links against an older glibc) or for a static musl target (x86_64-unknown-linux-musl / aarch64-unknown-linux-musl), then use that zip (--handler-zip or backend.zip)",
        LAMBDA_GLIBC.0, LAMBDA_GLIBC.1
    )]
    GlibcTooNew { needed: String },
    #[error("bootstrap is a damaged ELF file: {0}")]
    Malformed(String),
}

const BUILD_ADVICE: &str = "build the handler for Linux with `cargo lambda build --release --output-format zip` and use that zip";

/// Checks that `binary` can start on Lambda's `provided.al2023` runtime for `arch`.
///
/// The dynamic segment is read rather than the section headers because it is what the loader
/// uses (a binary stripped of its section headers still runs). The parsing is done here instead
/// of with `object`'s typed ELF structures because those need 8-byte-aligned input, which a
/// buffer read from a zip doesn't promise.
pub fn check_binary(binary: &[u8], arch: Architecture) -> Result<BinaryInfo, Unfit> {
    if binary.get(..4) != Some(&elf::ELFMAG[..]) {
        return Err(Unfit::NotElf(sniff(binary)));
    }
    let bytes = Bytes(binary);
    let class = bytes.u8(4)?;
    let data = bytes.u8(5)?;
    if class != elf::ELFCLASS64 {
        return Err(Unfit::NotLinux64(if class == elf::ELFCLASS32 {
            "a 32-bit executable".to_owned()
        } else {
            format!("an ELF file of unknown class {class}")
        }));
    }
    if data != elf::ELFDATA2LSB {
        return Err(Unfit::NotLinux64("a big-endian executable".to_owned()));
    }
    let os_abi = bytes.u8(7)?;
    if os_abi != elf::ELFOSABI_SYSV && os_abi != elf::ELFOSABI_GNU {
        return Err(Unfit::NotLinux64(format!(
            "an executable for another operating system (ELF OS ABI {os_abi})"
        )));
    }
    let expected = Expected::of(arch);
    let machine = bytes.u16(18)?;
    if machine != expected.machine {
        return Err(Unfit::WrongArchitecture {
            found: machine_name(machine),
            expected: arch,
            advice: wrong_architecture_advice(arch),
        });
    }
    let kind = bytes.u16(16)?;
    if kind != elf::ET_EXEC && kind != elf::ET_DYN {
        return Err(Unfit::NotElf(format!(
            "an ELF file that is not an executable (type {kind}, e.g. an object file)"
        )));
    }

    let segments = segments(&bytes)?;
    let mut interpreter = None;
    let mut dynamic = None;
    for segment in &segments {
        match segment.kind {
            elf::PT_INTERP => {
                let raw = bytes.range(segment.offset, segment.file_size)?;
                let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                interpreter = Some(String::from_utf8_lossy(&raw[..end]).into_owned());
            }
            elf::PT_DYNAMIC => dynamic = Some(*segment),
            _ => {}
        }
    }
    if let Some(found) = &interpreter
        && found != expected.interpreter
    {
        return Err(Unfit::ForeignInterpreter {
            found: found.clone(),
            expected: expected.interpreter,
            advice: if found.contains("musl") {
                "link it statically, as the *-unknown-linux-musl targets do by default"
            } else {
                "build it with the standard glibc toolchain or `cargo lambda build`"
            },
        });
    }
    let dynamic = match dynamic {
        Some(segment) => read_dynamic(&bytes, &segments, segment)?,
        None => Dynamic::default(),
    };
    let glibc = newest_glibc(&dynamic.versions)?;
    let linkage = if interpreter.is_some() || !dynamic.needed.is_empty() {
        Linkage::Dynamic
    } else {
        Linkage::Static
    };
    Ok(BinaryInfo {
        architecture: arch,
        size: binary.len() as u64,
        linkage,
        interpreter,
        needed: dynamic.needed,
        glibc: glibc.map(|(numbers, _)| {
            numbers
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(".")
        }),
    })
}

struct Expected {
    machine: u16,
    interpreter: &'static str,
}

impl Expected {
    fn of(arch: Architecture) -> Self {
        match arch {
            Architecture::X86_64 => Self {
                machine: elf::EM_X86_64,
                interpreter: "/lib64/ld-linux-x86-64.so.2",
            },
            Architecture::Arm64 => Self {
                machine: elf::EM_AARCH64,
                interpreter: "/lib/ld-linux-aarch64.so.1",
            },
        }
    }
}

fn wrong_architecture_advice(expected: Architecture) -> String {
    match expected {
        Architecture::X86_64 => "build it for x86_64 (`cargo lambda build --release --x86-64 --output-format zip`), or set architecture = \"arm64\" under [backend] in chatctl.toml".to_owned(),
        Architecture::Arm64 => "build it for arm64 (`cargo lambda build --release --arm64 --output-format zip`), or set architecture = \"x86_64\" under [backend] in chatctl.toml".to_owned(),
    }
}

fn machine_name(machine: u16) -> String {
    match machine {
        elf::EM_X86_64 => "x86_64".to_owned(),
        elf::EM_AARCH64 => "arm64 (aarch64)".to_owned(),
        elf::EM_386 => "32-bit x86".to_owned(),
        elf::EM_ARM => "32-bit ARM".to_owned(),
        elf::EM_RISCV => "RISC-V".to_owned(),
        elf::EM_PPC64 => "PowerPC 64".to_owned(),
        elf::EM_S390 => "s390x".to_owned(),
        other => format!("ELF machine {other}"),
    }
}

/// Names what a non-ELF file looks like, so that the message points at the usual mistake.
fn sniff(binary: &[u8]) -> String {
    match binary {
        [] => "an empty file".to_owned(),
        [b'#', b'!', ..] => "a script, not the chat backend executable".to_owned(),
        [b'M', b'Z', ..] => "a Windows executable".to_owned(),
        // Mach-O, 64- and 32-bit in either byte order, and universal binaries.
        [0xcf | 0xce, 0xfa, 0xed, 0xfe, ..]
        | [0xfe, 0xed, 0xfa, 0xcf | 0xce, ..]
        | [0xca, 0xfe, 0xba, 0xbe, ..] => "a macOS executable".to_owned(),
        [b'P', b'K', 3, 4, ..] => "a zip file (a zip inside the zip)".to_owned(),
        _ => "not an ELF file".to_owned(),
    }
}

/// Bounds-checked little-endian reads over the binary.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn range(&self, offset: u64, len: u64) -> Result<&'a [u8], Unfit> {
        let start = usize::try_from(offset).ok();
        let end = offset
            .checked_add(len)
            .and_then(|end| usize::try_from(end).ok());
        match (start, end) {
            (Some(start), Some(end)) if end <= self.0.len() => Ok(&self.0[start..end]),
            _ => Err(Unfit::Malformed(format!(
                "{len} bytes at offset {offset} are past its end ({} bytes)",
                self.0.len()
            ))),
        }
    }

    fn array<const N: usize>(&self, offset: u64) -> Result<[u8; N], Unfit> {
        let slice = self.range(offset, N as u64)?;
        let mut out = [0; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u8(&self, offset: u64) -> Result<u8, Unfit> {
        Ok(self.array::<1>(offset)?[0])
    }

    fn u16(&self, offset: u64) -> Result<u16, Unfit> {
        self.array(offset).map(u16::from_le_bytes)
    }

    fn u32(&self, offset: u64) -> Result<u32, Unfit> {
        self.array(offset).map(u32::from_le_bytes)
    }

    fn u64(&self, offset: u64) -> Result<u64, Unfit> {
        self.array(offset).map(u64::from_le_bytes)
    }

    /// The NUL-terminated string at `offset` of `table`.
    fn string(table: &[u8], offset: u64) -> Result<String, Unfit> {
        let tail = usize::try_from(offset)
            .ok()
            .and_then(|start| table.get(start..))
            .ok_or_else(|| {
                Unfit::Malformed(format!("string {offset} is outside the string table"))
            })?;
        let end = tail.iter().position(|&b| b == 0).ok_or_else(|| {
            Unfit::Malformed(format!(
                "string {offset} of the string table is unterminated"
            ))
        })?;
        Ok(String::from_utf8_lossy(&tail[..end]).into_owned())
    }
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    kind: u32,
    offset: u64,
    address: u64,
    file_size: u64,
}

/// Program header table entries (ELF64: 56 bytes each).
fn segments(bytes: &Bytes<'_>) -> Result<Vec<Segment>, Unfit> {
    const ENTRY: u64 = 56;
    let table = bytes.u64(32)?;
    let entry_size = u64::from(bytes.u16(54)?);
    let count = u64::from(bytes.u16(56)?);
    if count == 0 {
        return Ok(Vec::new());
    }
    if entry_size != ENTRY {
        return Err(Unfit::Malformed(format!(
            "program header entries are {entry_size} bytes instead of {ENTRY}"
        )));
    }
    (0..count)
        .map(|index| {
            let at = table
                .checked_add(index * ENTRY)
                .ok_or_else(|| Unfit::Malformed("program header offset overflows".to_owned()))?;
            Ok(Segment {
                kind: bytes.u32(at)?,
                offset: bytes.u64(at.saturating_add(8))?,
                address: bytes.u64(at.saturating_add(16))?,
                file_size: bytes.u64(at.saturating_add(32))?,
            })
        })
        .collect()
}

/// The file offset of virtual address `address`, through the loadable segments.
fn file_offset(segments: &[Segment], address: u64) -> Result<u64, Unfit> {
    segments
        .iter()
        .filter(|s| s.kind == elf::PT_LOAD)
        .find(|s| address >= s.address && address - s.address < s.file_size)
        .map(|s| s.offset.saturating_add(address - s.address))
        .ok_or_else(|| {
            Unfit::Malformed(format!(
                "address {address:#x} is in no loaded segment of the file"
            ))
        })
}

#[derive(Debug, Default)]
struct Dynamic {
    needed: Vec<String>,
    /// Every version it needs from a shared library, e.g. `GLIBC_2.34` (from `DT_VERNEED`).
    versions: Vec<String>,
}

fn read_dynamic(
    bytes: &Bytes<'_>,
    segments: &[Segment],
    dynamic: Segment,
) -> Result<Dynamic, Unfit> {
    const ENTRY: u64 = 16;
    let mut needed_offsets = Vec::new();
    let (mut strtab, mut strsz, mut verneed, mut verneednum) = (None, None, None, None);
    for index in 0..dynamic.file_size / ENTRY {
        let at = dynamic.offset.saturating_add(index * ENTRY);
        let tag = bytes.u64(at)?;
        let value = bytes.u64(at.saturating_add(8))?;
        match u32::try_from(tag) {
            Ok(elf::DT_NULL) => break,
            Ok(elf::DT_NEEDED) => needed_offsets.push(value),
            Ok(elf::DT_STRTAB) => strtab = Some(value),
            Ok(elf::DT_STRSZ) => strsz = Some(value),
            Ok(elf::DT_VERNEED) => verneed = Some(value),
            Ok(elf::DT_VERNEEDNUM) => verneednum = Some(value),
            _ => {}
        }
    }
    if needed_offsets.is_empty() && verneed.is_none() {
        return Ok(Dynamic::default());
    }
    let (Some(strtab), Some(strsz)) = (strtab, strsz) else {
        return Err(Unfit::Malformed(
            "the dynamic section has no string table".to_owned(),
        ));
    };
    let strings = bytes.range(file_offset(segments, strtab)?, strsz)?;
    let needed = needed_offsets
        .into_iter()
        .map(|offset| Bytes::string(strings, offset))
        .collect::<Result<Vec<_>, _>>()?;

    let mut versions = Vec::new();
    if let Some(verneed) = verneed {
        // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
        // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
        // The count bounds the walk, so a looping chain can't hang it.
        let mut entry = file_offset(segments, verneed)?;
        for _ in 0..verneednum.unwrap_or(0) {
            let aux_count = bytes.u16(entry.saturating_add(2))?;
            let mut aux = entry.saturating_add(u64::from(bytes.u32(entry.saturating_add(8))?));
            for _ in 0..aux_count {
                versions.push(Bytes::string(
                    strings,
                    u64::from(bytes.u32(aux.saturating_add(8))?),
                )?);
                let next = bytes.u32(aux.saturating_add(12))?;
                if next == 0 {
                    break;
                }
                aux = aux.saturating_add(u64::from(next));
            }
            let next = bytes.u32(entry.saturating_add(12))?;
            if next == 0 {
                break;
            }
            entry = entry.saturating_add(u64::from(next));
        }
    }
    Ok(Dynamic { needed, versions })
}

/// The newest `GLIBC_x.y[.z]` among `versions`, refusing anything newer than Lambda's glibc.
fn newest_glibc(versions: &[String]) -> Result<Option<(Vec<u32>, String)>, Unfit> {
    let mut newest: Option<(Vec<u32>, String)> = None;
    for version in versions {
        let Some(rest) = version.strip_prefix("GLIBC_") else {
            continue;
        };
        if rest == "PRIVATE" {
            // glibc's internal ABI between its own libraries; never from a program.
            continue;
        }
        let numbers: Option<Vec<u32>> = rest.split('.').map(|n| n.parse().ok()).collect();
        let Some(numbers) = numbers else {
            // Markers such as GLIBC_ABI_DT_RELR (from `-z pack-relative-relocs`, glibc 2.36)
            // name loader features; glibc 2.34 has none of them.
            return Err(Unfit::GlibcTooNew {
                needed: version.clone(),
            });
        };
        if newest.as_ref().is_none_or(|(best, _)| numbers > *best) {
            newest = Some((numbers, version.clone()));
        }
    }
    if let Some((numbers, name)) = &newest
        && numbers.as_slice() > [LAMBDA_GLIBC.0, LAMBDA_GLIBC.1].as_slice()
    {
        return Err(Unfit::GlibcTooNew {
            needed: name.clone(),
        });
    }
    Ok(newest)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal ELF64 executable image: header, program headers (one PT_LOAD over the whole
    /// file, an optional PT_INTERP and PT_DYNAMIC), a string table, a version-needs table for
    /// libc.so.6 and a dynamic section. Enough for the loader-facing parts `check_binary` reads.
    #[allow(clippy::cast_possible_truncation)] // a few hundred bytes
    pub(crate) fn craft_elf(
        machine: u16,
        interpreter: Option<&str>,
        glibc_versions: &[&str],
    ) -> Vec<u8> {
        const BASE: u64 = 0x40_0000;
        let dynamic_wanted = !glibc_versions.is_empty();
        let mut phdrs = vec![elf::PT_LOAD];
        if interpreter.is_some() {
            phdrs.push(elf::PT_INTERP);
        }
        if dynamic_wanted {
            phdrs.push(elf::PT_DYNAMIC);
        }
        let phoff = 64u64;
        let mut body_at = phoff + 56 * phdrs.len() as u64;

        let interp_at = body_at;
        let interp = interpreter.map(|i| {
            let mut bytes = i.as_bytes().to_vec();
            bytes.push(0);
            bytes
        });
        body_at += interp.as_ref().map_or(0, |i| i.len() as u64);

        // String table: "\0libc.so.6\0GLIBC_x\0..."
        let mut strings = vec![0u8];
        let libc = strings.len() as u32;
        strings.extend_from_slice(b"libc.so.6\0");
        let names: Vec<u32> = glibc_versions
            .iter()
            .map(|v| {
                let at = strings.len() as u32;
                strings.extend_from_slice(v.as_bytes());
                strings.push(0);
                at
            })
            .collect();
        let strtab_at = body_at;
        body_at += strings.len() as u64;

        let mut verneed = Vec::new();
        verneed.extend_from_slice(&1u16.to_le_bytes());
        verneed.extend_from_slice(&(names.len() as u16).to_le_bytes());
        verneed.extend_from_slice(&libc.to_le_bytes());
        verneed.extend_from_slice(&16u32.to_le_bytes());
        verneed.extend_from_slice(&0u32.to_le_bytes());
        for (index, name) in names.iter().enumerate() {
            verneed.extend_from_slice(&0u32.to_le_bytes());
            verneed.extend_from_slice(&0u16.to_le_bytes());
            verneed.extend_from_slice(&(index as u16 + 2).to_le_bytes());
            verneed.extend_from_slice(&name.to_le_bytes());
            let next: u32 = if index + 1 == names.len() { 0 } else { 16 };
            verneed.extend_from_slice(&next.to_le_bytes());
        }
        let verneed_at = body_at;
        body_at += verneed.len() as u64;

        let mut dynamic = Vec::new();
        let mut dyn_entry = |tag: u32, value: u64| {
            dynamic.extend_from_slice(&u64::from(tag).to_le_bytes());
            dynamic.extend_from_slice(&value.to_le_bytes());
        };
        dyn_entry(elf::DT_NEEDED, u64::from(libc));
        dyn_entry(elf::DT_STRTAB, BASE + strtab_at);
        dyn_entry(elf::DT_STRSZ, strings.len() as u64);
        dyn_entry(elf::DT_VERNEED, BASE + verneed_at);
        dyn_entry(elf::DT_VERNEEDNUM, 1);
        dyn_entry(elf::DT_NULL, 0);
        let dynamic_at = body_at;
        let total = if dynamic_wanted {
            body_at + dynamic.len() as u64
        } else {
            body_at
        };

        let mut out = Vec::new();
        out.extend_from_slice(&elf::ELFMAG);
        out.extend_from_slice(&[elf::ELFCLASS64, elf::ELFDATA2LSB, 1, elf::ELFOSABI_SYSV]);
        out.resize(16, 0);
        out.extend_from_slice(&elf::ET_DYN.to_le_bytes());
        out.extend_from_slice(&machine.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes()); // e_version
        out.extend_from_slice(&(BASE + 0x1000).to_le_bytes()); // e_entry
        out.extend_from_slice(&phoff.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no section headers
        out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        out.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
        out.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
        out.extend_from_slice(&(phdrs.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
        assert_eq!(out.len(), 64);
        for kind in phdrs {
            let (offset, size) = match kind {
                elf::PT_LOAD => (0, total),
                elf::PT_INTERP => (interp_at, interp.as_ref().map_or(0, |i| i.len() as u64)),
                _ => (dynamic_at, dynamic.len() as u64),
            };
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&5u32.to_le_bytes()); // PF_R | PF_X
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&(BASE + offset).to_le_bytes());
            out.extend_from_slice(&(BASE + offset).to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&0x1000u64.to_le_bytes());
        }
        if let Some(interp) = &interp {
            out.extend_from_slice(interp);
        }
        out.extend_from_slice(&strings);
        out.extend_from_slice(&verneed);
        if dynamic_wanted {
            out.extend_from_slice(&dynamic);
        }
        assert_eq!(out.len() as u64, total);
        out
    }

    const X86_INTERP: &str = "/lib64/ld-linux-x86-64.so.2";

    #[test]
    fn accepts_a_dynamic_binary_within_glibc_2_34() {
        let binary = craft_elf(
            elf::EM_X86_64,
            Some(X86_INTERP),
            &["GLIBC_2.2.5", "GLIBC_2.34", "GLIBC_2.3.4", "GLIBC_PRIVATE"],
        );
        let info = check_binary(&binary, Architecture::X86_64).unwrap();
        assert_eq!(info.linkage, Linkage::Dynamic);
        assert_eq!(info.glibc.as_deref(), Some("2.34"));
        assert_eq!(info.needed, vec!["libc.so.6".to_owned()]);
        assert_eq!(info.interpreter.as_deref(), Some(X86_INTERP));
    }

    #[test]
    fn accepts_a_static_binary() {
        let binary = craft_elf(elf::EM_AARCH64, None, &[]);
        let info = check_binary(&binary, Architecture::Arm64).unwrap();
        assert_eq!(info.linkage, Linkage::Static);
        assert_eq!(info.glibc, None);
        assert!(info.needed.is_empty());
    }

    #[test]
    fn refuses_glibc_newer_than_the_runtime() {
        let binary = craft_elf(
            elf::EM_X86_64,
            Some(X86_INTERP),
            &["GLIBC_2.2.5", "GLIBC_2.36", "GLIBC_2.34"],
        );
        let err = check_binary(&binary, Architecture::X86_64).unwrap_err();
        assert_eq!(
            err,
            Unfit::GlibcTooNew {
                needed: "GLIBC_2.36".to_owned()
            }
        );
        let message = err.to_string();
        assert!(
            message.starts_with(
                "bootstrap needs GLIBC_2.36 but Lambda's provided.al2023 has glibc 2.34"
            ),
            "{message}"
        );
        assert!(message.contains("cargo lambda build"), "{message}");
    }

    #[test]
    fn refuses_glibc_2_35_and_loader_feature_markers() {
        let binary = craft_elf(elf::EM_X86_64, Some(X86_INTERP), &["GLIBC_2.35"]);
        assert!(matches!(
            check_binary(&binary, Architecture::X86_64),
            Err(Unfit::GlibcTooNew { needed }) if needed == "GLIBC_2.35"
        ));
        let binary = craft_elf(
            elf::EM_X86_64,
            Some(X86_INTERP),
            &["GLIBC_2.2.5", "GLIBC_ABI_DT_RELR"],
        );
        assert!(matches!(
            check_binary(&binary, Architecture::X86_64),
            Err(Unfit::GlibcTooNew { needed }) if needed == "GLIBC_ABI_DT_RELR"
        ));
    }

    #[test]
    fn refuses_the_other_architecture() {
        let binary = craft_elf(elf::EM_AARCH64, Some("/lib/ld-linux-aarch64.so.1"), &[]);
        let err = check_binary(&binary, Architecture::X86_64).unwrap_err();
        assert!(
            matches!(&err, Unfit::WrongArchitecture { found, expected: Architecture::X86_64, .. } if found == "arm64 (aarch64)")
        );
        assert!(err.to_string().contains("architecture = \"arm64\""));
        let binary = craft_elf(elf::EM_X86_64, None, &[]);
        assert!(matches!(
            check_binary(&binary, Architecture::Arm64),
            Err(Unfit::WrongArchitecture { .. })
        ));
    }

    #[test]
    fn refuses_a_foreign_loader() {
        let binary = craft_elf(elf::EM_X86_64, Some("/lib/ld-musl-x86_64.so.1"), &[]);
        let err = check_binary(&binary, Architecture::X86_64).unwrap_err();
        assert!(err.to_string().contains("link it statically"), "{err}");
    }

    #[test]
    fn refuses_files_that_are_not_linux_executables() {
        for (bytes, what) in [
            (&b""[..], "an empty file"),
            (&b"#!/bin/sh\nexec ./chat\n"[..], "a script"),
            (&b"MZ\x90\x00"[..], "a Windows executable"),
            (
                &[0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1][..],
                "a macOS executable",
            ),
            (&b"hello"[..], "not an ELF file"),
        ] {
            let err = check_binary(bytes, Architecture::X86_64).unwrap_err();
            assert!(matches!(err, Unfit::NotElf(_)), "{err}");
            assert!(err.to_string().contains(what), "{err}");
        }
        let mut bits32 = craft_elf(elf::EM_X86_64, None, &[]);
        bits32[4] = elf::ELFCLASS32;
        assert!(matches!(
            check_binary(&bits32, Architecture::X86_64),
            Err(Unfit::NotLinux64(_))
        ));
        let mut freebsd = craft_elf(elf::EM_X86_64, None, &[]);
        freebsd[7] = 9;
        assert!(matches!(
            check_binary(&freebsd, Architecture::X86_64),
            Err(Unfit::NotLinux64(_))
        ));
    }

    #[test]
    fn truncated_binaries_are_reported_not_panicked_on() {
        let binary = craft_elf(elf::EM_X86_64, Some(X86_INTERP), &["GLIBC_2.17"]);
        for len in [5, 20, 63, 64, 100, binary.len() - 1] {
            let result = check_binary(&binary[..len], Architecture::X86_64);
            assert!(
                matches!(result, Err(Unfit::Malformed(_))),
                "{len}: {result:?}"
            );
        }
    }
}
