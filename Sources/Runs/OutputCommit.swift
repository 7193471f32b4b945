import Foundation
import Analysis
import Firms
import HATConfig
import Output
import Parallel

/// The output folder, prepared, locked and recovered on the root, with the names it will receive checked;
/// the refusal (or "") agreed by every rank (collective). Other ranks get no folder.
public func prepareOutputFolder(_ directory: String, outputs: [String], file: String, key: String,
                         comm: Communicator) throws -> (RunFolder?, String) {
    var folder: RunFolder?
    var refusal = ""
    if comm.isRoot {
        do {
            let f = try RunFolder.prepare(directory, file: file, key: key)
            folder = f
            try f.lock(file: file, key: key)
            f.recover()
            try f.checkTargets(outputs, file: file, key: key)
        } catch {
            refusal = "\(error)"
            folder?.abandon()
            folder = nil
        }
    }
    try comm.broadcast(&refusal)
    return (folder, refusal)
}

/// Agree over every rank on whether staging `names` failed (`localProblem` is this rank's failure or ""; the
/// lowest failing rank's message reaches all), let the root write its own files (`writeRootFiles`) and
/// commit everything at once. Any failure: one message, nothing committed, exit 4 on every rank.
public func commitStagedOutputs(_ names: [String], folder: RunFolder?, comm: Communicator, directory: String,
                         localProblem: String, note: String, writeRootFiles: () throws -> Void) throws {
    var problem = localProblem
    let failing = try comm.allReduce([Int64(problem.isEmpty ? comm.size : comm.rank)].map { -$0 })[0]
    if failing != -Int64(comm.size) {
        try comm.broadcast(&problem, root: Int(-failing))
    } else if comm.isRoot, let folder {
        do {
            try writeRootFiles()
            try folder.commit(names)
        } catch {
            problem = "\(error)"
        }
    }
    try comm.broadcast(&problem)
    if !problem.isEmpty {
        folder?.discard(names)
        folder?.abandon()
        throw HatFailure("writing outputs into \(directory): \(problem); nothing was written (\(note))", code: HatExit.io)
    }
}

/// Run a job's work after its output folder is prepared; on failure the folders this run made are removed and
/// the error becomes the run's exit. A `HatFailure` (agreed by every rank: a refused or failed write) keeps
/// its code; a failure every rank agreed on through a collective driver, or an `AnalysisError` (raised alike
/// on every rank from the same gathered numbers), exits 1 on each rank. Anything else may have happened on
/// this rank alone: it is printed and every rank ends, so that none is left waiting in a collective.
public func abandoningOnFailure<T>(_ folder: RunFolder?, comm: Communicator, _ work: () throws -> T) throws -> T {
    do {
        return try work()
    } catch let failure as HatFailure {
        folder?.abandon()
        throw failure
    } catch {
        folder?.abandon()
        if let failure = error as? CollectiveFailure, failure.agreed { throw HatFailure("\(error)", code: 1) }
        if error is AnalysisError { throw HatFailure("\(error)", code: 1) }
        Console.error("error: \(comm.isRoot ? "" : "rank \(comm.rank): ")\(error)")
        comm.abort(code: 1)
    }
}

/// Work done on the root rank alone into an output folder, for problems small enough that every rank would
/// compute the same numbers (the planner, a firm world): the folder is prepared, locked and checked for
/// `outputs`, `work` writes them and says whether the run converged. A refusal or a failed write removes
/// the folders this run created (they hold nothing); a `ConfigError` or `FirmsError` is exit 2 (a
/// `FirmsError` named by its key in `configuration`), an `OutputError` exit 4, and the verdict reaches every
/// rank.
func runOnRoot(directory: String, outputs: [String], folderFile: String, folderKey: String, configuration: String,
               comm: Communicator, _ work: (RunFolder) throws -> Bool) throws -> RunEnd {
    var problem = ""
    var code = [Int64(0)]
    var converged = true
    if comm.isRoot {
        var created: RunFolder?
        defer { if !problem.isEmpty { created?.abandon() } }
        do {
            let folder = try RunFolder.prepare(directory, file: folderFile, key: folderKey)
            created = folder
            try folder.lock(file: folderFile, key: folderKey)
            defer { folder.unlock() }
            try folder.checkTargets(outputs, file: folderFile, key: folderKey)
            converged = try work(folder)
        } catch let e as ConfigError {
            problem = "\(e)"; code = [Int64(HatExit.badInput)]
        } catch let e as FirmsError {
            // A failed condition of the model: named by its key, or by [firms] when it is the parameters as a whole.
            problem = ConfigError(file: configuration, key: e.key.isEmpty ? "firms" : e.key,
                                  problem: e.key.isEmpty ? e.problem + " (the parameters are too extreme for this model)" : e.problem).description
            code = [Int64(HatExit.badInput)]
        } catch let e as OutputError {
            problem = "writing \(e)"; code = [Int64(HatExit.io)]
        } catch {
            problem = "\(error)"; code = [1]
        }
    }
    try comm.broadcast(&problem)
    try comm.broadcast(&code)
    if !problem.isEmpty { throw HatFailure(problem, code: Int32(code[0])) }
    var flag = [Int64(converged ? 1 : 0)]
    try comm.broadcast(&flag)
    return flag[0] == 1 ? .converged : .notConverged
}
