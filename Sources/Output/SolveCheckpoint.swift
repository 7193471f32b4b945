import Checksum
import Foundation
import HATConfig
import Storage

/// Checkpoints of `hat solve --checkpoint-dir DIR`: after every solver iteration the root writes the best
/// unknowns so far with their residuals (`DIR/solve-NNNNNN.h5`: temporary name, fsync, verify, rename; the
/// newest two are kept). `hat solve --resume` starts the solver from the newest valid one: a large-grid
/// equilibrium stopped at a time limit does not start over (the path after a resume is not bitwise the
/// uninterrupted one; the root it converges to agrees within the tolerances).
public enum SolveCheckpoint {
    public static let kind = "hat-solve-checkpoint"
    static let keep = 2

    public struct Contents {
        public var path: String
        public var unknowns: [Double]
        public var residuals: [Double]
        public var iteration: Int
        public var strategy: String
        public var attributes: [String: String]
    }

    static func name(_ sequence: Int) -> String { String(format: "solve-%06d.h5", sequence) }

    /// The highest checkpoint number in `directory`.
    public static func newestSequence(in directory: String) -> Int? {
        candidates(directory).first.flatMap { Int(($0 as NSString).lastPathComponent.dropFirst(6).dropLast(3)) }
    }

    /// Checkpoints in `directory`: exactly the names `write` makes, regular files only, newest first.
    static func candidates(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).compactMap { n -> (String, Int)? in
            guard n.hasPrefix("solve-"), n.hasSuffix(".h5"), let k = Int(n.dropFirst(6).dropLast(3)), k >= 0,
                  name(k) == n else { return nil }
            var info = stat()
            guard stat(directory + "/" + n, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
            return (directory + "/" + n, k)
        }.sorted { $0.1 > $1.1 }.map(\.0)
    }

    static let attributeNames = ["kind", "hat_version", "sequence", "iteration", "strategy", "unknown_names",
                                 "configuration", "configuration_hash", "effective_configuration"]

    /// Write checkpoint `sequence` (root only, serial HDF5).
    public static func write(directory: String, sequence: Int, unknowns: [Double], unknownNames: [String],
                             residuals: [Double], iteration: Int, strategy: String, config: RunConfiguration) throws {
        let final = directory + "/" + name(sequence)
        let temporary = directory + "/." + name(sequence) + ".tmp-\(getpid())"
        SignalCleanup.register(temporary)
        defer { SignalCleanup.unregister(temporary) }
        // Whatever fails below (a full disk, a file-size limit) leaves no partial temporary behind.
        var written = false
        defer { if !written { unlink(temporary) } }
        let effective = config.effectiveValues.map { "\($0.key) = \($0.value)" }.joined(separator: "\n")
        let attributes: [(String, String)] = [
            ("kind", kind), ("hat_version", hatVersion), ("sequence", "\(sequence)"), ("iteration", "\(iteration)"),
            ("strategy", strategy), ("unknown_names", unknownNames.joined(separator: ",")),
            ("configuration", config.text), ("configuration_hash", checksumHex(fnv1a64(effective))),
            ("effective_configuration", effective),
        ]
        do {
            let f = try HDF5File.create(temporary, communicator: nil)
            try f.writeShared("unknowns", shape: [unknowns.count], values: unknowns,
                              attributes: ["description": "best unknowns so far: " + unknownNames.joined(separator: ", ")])
            let finite = residuals.allSatisfy { $0.isFinite }
            if finite {
                try f.writeShared("residuals", shape: [residuals.count], values: residuals,
                                  attributes: ["description": "market residuals at the unknowns"])
            }
            for (k, v) in attributes { try f.setAttribute("/", k, v) }
            let sums = [checksumHex(fnv1a64(unknowns)), finite ? checksumHex(fnv1a64(residuals)) : "-",
                        checksumHex(fnv1a64(attributes.map { "\($0.0)=\($0.1)" }.joined(separator: "\n")))]
            try f.setAttribute("/", "checksums", sums.joined(separator: ","))
            try f.flush()
        }
        SignalCleanup.testPoint("solve-checkpoint-written")
        _ = try read(temporary)
        let fd = open(temporary, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
        guard rename(temporary, final) == 0 else {
            throw OutputError(path: final, problem: "rename failed: \(String(cString: strerror(errno)))")
        }
        written = true
        for old in candidates(directory).dropFirst(keep) { unlink(old) }
    }

    /// Remove the temporaries of runs that died while writing a checkpoint into `directory`
    /// (`.solve-NNNNNN.h5.tmp-PID` whose process is gone; a live run's temporary is left alone).
    public static func removeStaleTemporaries(in directory: String) {
        for n in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard n.hasPrefix(".solve-"), let marker = n.range(of: ".h5.tmp-"),
                  let pid = Int32(n[marker.upperBound...]), pid > 0 else { continue }
            let sequence = n[n.index(n.startIndex, offsetBy: 7)..<marker.lowerBound]
            guard sequence.count == 6, sequence.allSatisfy(\.isNumber) else { continue }
            if pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH) { unlink(directory + "/" + n) }
        }
    }

    /// Read and verify one checkpoint (throws with the reason when it is not a valid solve checkpoint).
    public static func read(_ path: String) throws -> Contents {
        func bad(_ why: String) -> OutputError { OutputError(path: path, problem: why) }
        guard let f = try? HDF5File.open(path) else { throw bad("not a readable HDF5 file (truncated or corrupted)") }
        guard (try? f.attribute("/", "kind")) == kind else { throw bad("not a hat solve checkpoint") }
        var attributes: [String: String] = [:]
        for n in attributeNames {
            guard let v = try? f.attribute("/", n) else { throw bad("attribute \(n) missing (corrupted)") }
            attributes[n] = v
        }
        guard let sums = try? f.attribute("/", "checksums").split(separator: ",").map(String.init), sums.count == 3,
              let unknowns = try? f.read("unknowns") else { throw bad("incomplete") }
        let residuals = sums[1] == "-" ? [] : ((try? f.read("residuals")) ?? [])
        let text = attributeNames.map { "\($0)=\(attributes[$0]!)" }.joined(separator: "\n")
        guard checksumHex(fnv1a64(unknowns)) == sums[0], sums[1] == "-" || checksumHex(fnv1a64(residuals)) == sums[1],
              checksumHex(fnv1a64(text)) == sums[2] else { throw bad("checksum does not match (corrupted)") }
        return Contents(path: path, unknowns: unknowns, residuals: residuals, iteration: Int(attributes["iteration"]!) ?? 0,
                        strategy: attributes["strategy"]!, attributes: attributes)
    }

    /// The newest valid checkpoint in `directory` written for the same configuration (run-control keys
    /// aside), with the problems of newer ones skipped; nil when there is none.
    public static func newest(in directory: String, config: RunConfiguration,
                              ignoring: Set<String>) throws -> (Contents, skipped: [String])? {
        var skipped: [String] = []
        for path in candidates(directory) {
            do {
                let c = try read(path)
                let there = Dictionary(c.attributes["effective_configuration"]!.split(separator: "\n").map { line -> (String, String) in
                    let parts = line.components(separatedBy: " = ")
                    return (parts[0], parts.dropFirst().joined(separator: " = "))
                }, uniquingKeysWith: { a, _ in a })
                for (key, value) in config.effectiveValues where !ignoring.contains(key) && there[key] != value {
                    throw ConfigError(file: config.source(of: key), key: key,
                                      problem: "differs from the checkpoint \(path) being resumed (\(there[key] ?? "absent") there, \(value) here)")
                }
                return (c, skipped)
            } catch let e as OutputError {
                skipped.append(e.description)
            }
        }
        return nil
    }
}
