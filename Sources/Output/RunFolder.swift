import Foundation
import HATConfig

/// The output folder of one run, with the guarantees users and job scripts rely on:
///
/// - folders this run had to create are removed again if it gives up before writing (bad input);
/// - one run at a time: `.hat.lock` is held with `flock` for the run's lifetime, so a second run into the
///   same folder is refused at once (the kernel drops the lock if the holder dies, even by SIGKILL);
/// - outputs appear together or not at all: each is written under a temporary name (`.NAME.tmp-RUNID`),
///   then a journal (`.hat-commit`) lists the renames, the renames happen with termination signals held
///   back, and the journal is removed. A run killed between two renames leaves the journal, and the next run
///   into the folder finishes the renames before anything else, so readers never see a mix of two runs;
/// - temporaries of a run that died are removed by the next run (it holds the lock, so they are stale), and
///   SIGTERM/SIGINT/SIGHUP remove this run's temporaries and lock file before the process ends.
public final class RunFolder {
    public let path: String
    /// Identifies this run's temporaries: process id and a random suffix.
    public let runID: String
    private let createdDirectories: [String]
    private var lockDescriptor: Int32 = -1

    static let lockName = ".hat.lock"
    static let journalName = ".hat-commit"

    private init(path: String, runID: String, created: [String]) {
        self.path = path; self.runID = runID; self.createdDirectories = created
    }

    /// Create the folder (and missing parents), check that it is a writable folder. A failure is a
    /// `ConfigError` naming `file` and `key`, and removes whatever this call created.
    public static func prepare(_ path: String, file: String, key: String, runID: String? = nil) throws -> RunFolder {
        let fm = FileManager.default
        guard !path.isEmpty else { throw ConfigError(file: file, key: key, problem: "output folder must not be empty") }
        // Walk up to the first folder that exists; create the rest one level at a time, remembering each.
        var missing: [String] = []
        var probe = URL(fileURLWithPath: path).standardizedFileURL
        var isDir: ObjCBool = false
        while !fm.fileExists(atPath: probe.path, isDirectory: &isDir) {
            missing.append(probe.path)
            let parent = probe.deletingLastPathComponent()
            if parent.path == probe.path { break }
            probe = parent
        }
        if missing.isEmpty || fm.fileExists(atPath: probe.path) {
            if fm.fileExists(atPath: probe.path, isDirectory: &isDir), !isDir.boolValue {
                throw ConfigError(file: file, key: key, problem: missing.isEmpty
                                  ? "output folder \(path) exists and is not a folder"
                                  : "cannot create output folder \(path): \(probe.path) is not a folder")
            }
        }
        var created: [String] = []
        for dir in missing.reversed() {
            if mkdir(dir, 0o755) == 0 {
                created.append(dir)             // only what this run made is ever removed again
            } else if errno != EEXIST {
                let reason = String(cString: strerror(errno))
                removeEmpty(created)
                throw ConfigError(file: file, key: key, problem: "cannot create output folder \(path) (\(dir): \(reason))")
            }
        }
        guard access(path, W_OK) == 0 else {
            removeEmpty(created)
            throw ConfigError(file: file, key: key, problem: "output folder \(path) is not writable")
        }
        let id = runID ?? "\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        return RunFolder(path: path, runID: id, created: created)
    }

    /// Remove the folders this run created, innermost first, if they are empty (after a refusal).
    public func abandon() {
        unlock()
        RunFolder.removeEmpty(createdDirectories)
    }

    private static func removeEmpty(_ dirs: [String]) {
        for dir in dirs.reversed() { rmdir(dir) }       // rmdir only removes empty folders
    }

    /// The lock file's path.
    public var lockPath: String { path + "/" + RunFolder.lockName }

    /// Take the folder's lock, or throw a `ConfigError` naming the run that holds it.
    public func lock(file: String, key: String) throws {
        while true {
            // Never through a link: a symbolic link planted as the lock would have the run write its process
            // id into whatever file the link names.
            let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
            guard fd >= 0 else {
                let reason = errno == ELOOP ? "it is a symbolic link; remove it" : String(cString: strerror(errno))
                throw ConfigError(file: file, key: key, problem: "cannot use the lock file \(lockPath): \(reason)")
            }
            var kind = stat()
            if fstat(fd, &kind) != 0 || (kind.st_mode & S_IFMT) != S_IFREG {
                close(fd)
                throw ConfigError(file: file, key: key, problem: "cannot use the lock file \(lockPath): it is not a regular file; remove it")
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                var buffer = [UInt8](repeating: 0, count: 64)
                let n = pread(fd, &buffer, 63, 0)
                close(fd)
                let holder = n > 0 ? String(decoding: buffer.prefix(Int(n)), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines) : "unknown"
                throw ConfigError(file: file, key: key, problem: "output folder \(path) is in use by another hat run (process \(holder)); wait for it to finish or choose another output folder")
            }
            // The holder before us may have removed the file after we opened it: lock the file that is there.
            var opened = stat(), current = stat()
            if fstat(fd, &opened) == 0 && lstat(lockPath, &current) == 0 && opened.st_ino == current.st_ino
                && opened.st_dev == current.st_dev {
                let text = Array("\(getpid())\n".utf8)
                _ = ftruncate(fd, 0)
                _ = pwrite(fd, text, text.count, 0)
                lockDescriptor = fd
                SignalCleanup.register(lockPath)
                return
            }
            close(fd)
        }
    }

    /// Release the lock and remove the lock file (while still holding it, so no other run is confused).
    public func unlock() {
        guard lockDescriptor >= 0 else { return }
        SignalCleanup.unregister(lockPath)
        unlink(lockPath)
        close(lockDescriptor)
        lockDescriptor = -1
    }

    /// Refuse output names that exist as something other than a regular file (a folder named summary.json
    /// would make the commit fail half way).
    public func checkTargets(_ names: [String], file: String, key: String) throws {
        for name in names {
            var info = stat()
            if lstat(path + "/" + name, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG {
                throw ConfigError(file: file, key: key, problem: "\(path)/\(name) exists and is not a regular file; remove it or choose another output folder")
            }
        }
    }

    /// Refuse to start writing `bytes` that cannot fit: the free space of the folder's file system and the
    /// process's file-size limit (ulimit -f). Writing into a full disk would fail half way, under MPI-IO
    /// with a message from every rank.
    public func checkSpace(bytes: Double) throws {
        var fs = statvfs()
        if statvfs(path, &fs) == 0 {
            let free = Double(fs.f_bavail) * Double(fs.f_frsize)
            if free < bytes {
                throw OutputError(path: path, problem: String(format: "not enough free space: the outputs need about %.1f MiB, the file system has %.1f MiB free", bytes / 1048576, free / 1048576))
            }
        }
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit) == 0 && limit.rlim_cur != rlim_t.max
            && Double(limit.rlim_cur) < bytes {
            throw OutputError(path: path, problem: String(format: "the file-size limit (ulimit -f) is %.3g KiB, but solution.h5 needs about %.1f MiB", Double(limit.rlim_cur) / 1024, bytes / 1048576))
        }
    }

    /// Under the lock: finish a commit that a killed run left half done, and remove stale temporaries.
    public func recover() {
        let journal = path + "/" + RunFolder.journalName
        if let text = try? String(contentsOfFile: journal, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "\t").map(String.init)
                // Only renames of hat's own staged files to plain names inside this folder: a journal edited
                // to name `../x` must not move files elsewhere.
                guard parts.count == 2, !parts[0].contains("/"), !parts[1].contains("/"),
                      parts[1] != "." && parts[1] != "..", parts[0].hasPrefix(".\(parts[1]).tmp-") else { continue }
                let from = path + "/" + parts[0], to = path + "/" + parts[1]
                if FileManager.default.fileExists(atPath: from) { rename(from, to) }
            }
            unlink(journal)
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for name in names where RunFolder.isStaleTemporary(name) { unlink(path + "/" + name) }
    }

    /// hat's own staged files only (`.solution.h5.tmp-…`, `.summary.json.tmp-…`, `.hat-commit.tmp-…`):
    /// other tools' temporaries in a shared folder are not ours to remove.
    static func isStaleTemporary(_ name: String) -> Bool {
        ["solution.h5", "summary.json", journalName].contains { name.hasPrefix(".\($0).tmp-") }
    }

    /// The temporary path under which `name` is written before the commit.
    public func temporaryPath(for name: String) -> String { RunFolder.temporaryPath(in: path, for: name, runID: runID) }

    /// The same, for ranks that hold no `RunFolder` (only the root prepares and commits).
    public static func temporaryPath(in folder: String, for name: String, runID: String) -> String {
        folder + "/.\(name).tmp-\(runID)"
    }

    /// Make a temporary known to the signal handler (call before creating it).
    public func track(_ name: String) { SignalCleanup.register(temporaryPath(for: name)) }

    /// Remove this run's temporaries (after a failure).
    public func discard(_ names: [String]) {
        for name in names {
            unlink(temporaryPath(for: name))
            SignalCleanup.unregister(temporaryPath(for: name))
        }
    }

    /// Rename every staged temporary to its final name, all or nothing from a reader's point of view.
    public func commit(_ names: [String]) throws {
        let journal = path + "/" + RunFolder.journalName
        let journalTemporary = temporaryPath(for: RunFolder.journalName)
        for name in names where !FileManager.default.fileExists(atPath: temporaryPath(for: name)) {
            throw OutputError(path: temporaryPath(for: name), problem: "staged output is missing")
        }
        let text = names.map { ".\($0).tmp-\(runID)\t\($0)" }.joined(separator: "\n") + "\n"
        SignalCleanup.register(journalTemporary)
        try writeDurably(text, to: journalTemporary)
        SignalCleanup.testPoint("commit-journal-staged")
        var failure: String?
        SignalCleanup.holdTermination {
            // Nothing staged may be removed by a signal from here on (the mask holds only this thread's
            // signals; another thread of the process may still take one): a kill then leaves either the
            // temporaries without a journal (removed by the next run) or the journal (rolled forward).
            SignalCleanup.unregister(journalTemporary)
            for name in names { SignalCleanup.unregister(temporaryPath(for: name)) }
            guard rename(journalTemporary, journal) == 0 else {
                failure = "cannot write the commit journal: \(String(cString: strerror(errno)))"
                unlink(journalTemporary)
                return
            }
            SignalCleanup.testPoint("commit-journal")
            for name in names {
                guard rename(temporaryPath(for: name), path + "/" + name) == 0 else {
                    // Keep the journal: the next run into the folder finishes what it lists.
                    failure = "cannot rename the staged \(name) into place: \(String(cString: strerror(errno)))"
                    return
                }
                SignalCleanup.testPoint("commit-renamed")
            }
            syncFolder()
            unlink(journal)
        }
        if let failure { throw OutputError(path: path, problem: failure) }
        syncFolder()
    }

    private func syncFolder() {
        let fd = open(path, O_RDONLY | O_DIRECTORY)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}

/// An output file could not be written.
public struct OutputError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public init(path: String, problem: String) { self.path = path; self.problem = problem }
    public var description: String { "\(path): \(problem)" }
}

/// Write `text` to `path` and flush it to disk, or throw an `OutputError` (and leave no partial file).
///
/// The file is always a new one: whatever is at `path` as a symbolic link is replaced, not followed (every
/// caller writes a temporary that is then renamed, so this is what the rename would do anyway).
public func writeDurably(_ text: String, to path: String) throws {
    replaceLink(at: path)
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard fd >= 0 else { throw OutputError(path: path, problem: "cannot create: \(String(cString: strerror(errno)))") }
    let bytes = Array(text.utf8)
    var written = 0
    var failure: String?
    while written < bytes.count {
        let n = bytes[written...].withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            failure = String(cString: strerror(errno)); break
        }
        written += n
    }
    if failure == nil && fsync(fd) != 0 && errno != EINVAL { failure = String(cString: strerror(errno)) }
    if close(fd) != 0 && failure == nil { failure = String(cString: strerror(errno)) }
    if let failure {
        unlink(path)
        throw OutputError(path: path, problem: "cannot write: \(failure)")
    }
}

/// Write text to a file atomically: a temporary name in the same folder, then rename. On failure the
/// temporary is removed and an `OutputError` names the file.
public func writeAtomically(_ text: String, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
    SignalCleanup.register(tmp)
    defer { SignalCleanup.unregister(tmp) }
    try writeDurably(text, to: tmp)
    if rename(tmp, path) != 0 {
        let reason = String(cString: strerror(errno))
        unlink(tmp)
        throw OutputError(path: path, problem: "cannot write: \(reason)")
    }
}

/// Remove a symbolic link at `path` (not what it points to), so that a file created there is a new file
/// rather than a write through the link into a file elsewhere.
public func replaceLink(at path: String) {
    var info = stat()
    if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK { unlink(path) }
}
