import Foundation
import Output
import TestSupport
import XCTest

/// The output folder's commit protocol, driven directly.
final class RunFolderTests: XCTestCase {
    func contents(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

    /// A run killed between the journal and the renames is finished by the next run; only hat's own stale
    /// temporaries are removed, never another tool's hidden files.
    func testRecoveryRollsForwardAndRemovesOnlyOurTemporaries() throws {
        let dir = temporaryDirectory()
        try "new solution".write(toFile: dir + "/.solution.h5.tmp-1-a", atomically: true, encoding: .utf8)
        try "new summary".write(toFile: dir + "/.summary.json.tmp-1-a", atomically: true, encoding: .utf8)
        try "old summary".write(toFile: dir + "/summary.json", atomically: true, encoding: .utf8)
        try ".solution.h5.tmp-1-a\tsolution.h5\n.summary.json.tmp-1-a\tsummary.json\n"
            .write(toFile: dir + "/.hat-commit", atomically: true, encoding: .utf8)
        try "stale".write(toFile: dir + "/.solution.h5.tmp-2-b", atomically: true, encoding: .utf8)
        try "someone else's".write(toFile: dir + "/.editor.tmp-77", atomically: true, encoding: .utf8)
        let folder = try RunFolder.prepare(dir, file: "test", key: "")
        try folder.lock(file: "test", key: "")
        folder.recover()
        XCTAssertEqual(try String(contentsOfFile: dir + "/solution.h5", encoding: .utf8), "new solution")
        XCTAssertEqual(try String(contentsOfFile: dir + "/summary.json", encoding: .utf8), "new summary")
        folder.unlock()
        XCTAssertEqual(contents(dir), [".editor.tmp-77", "solution.h5", "summary.json"])
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A rename that fails during the commit is an error, and the journal stays for the next run.
    func testFailedRenameKeepsTheJournalAndThrows() throws {
        let dir = temporaryDirectory()
        let folder = try RunFolder.prepare(dir, file: "test", key: "")
        try folder.lock(file: "test", key: "")
        for name in ["solution.h5", "summary.json"] {
            folder.track(name)
            try writeDurably(name, to: folder.temporaryPath(for: name))
        }
        // The target became a non-empty folder while the run was computing.
        try FileManager.default.createDirectory(atPath: dir + "/summary.json/x", withIntermediateDirectories: true)
        XCTAssertThrowsError(try folder.commit(["solution.h5", "summary.json"])) { error in
            XCTAssertTrue("\(error)".contains("summary.json"), "\(error)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/.hat-commit"))
        folder.unlock()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Folders a refused run created are removed again; folders that existed are kept.
    func testAbandonRemovesOnlyWhatItCreated() throws {
        let dir = temporaryDirectory()
        let folder = try RunFolder.prepare(dir + "/a/b/c", file: "test", key: "")
        try folder.lock(file: "test", key: "")
        folder.abandon()
        XCTAssertEqual(contents(dir), [])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir))
        try? FileManager.default.removeItem(atPath: dir)
    }
}
