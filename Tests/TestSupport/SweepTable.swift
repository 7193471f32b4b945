import Foundation

/// A sweep.csv (`hat sweep --collect`) as rows of column → cell (quoted cells unquoted).
public func readSweepTable(_ path: String) throws -> [[String: String]] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var rows: [[String]] = []
    var row: [String] = [], cell = "", quoted = false
    var chars = Array(text)[...]
    while let c = chars.popFirst() {
        if quoted {
            if c == "\"" {
                if chars.first == "\"" { cell.append("\""); chars.removeFirst() } else { quoted = false }
            } else { cell.append(c) }
        } else if c == "\"" {
            quoted = true
        } else if c == "," {
            row.append(cell); cell = ""
        } else if c == "\n" {
            row.append(cell); rows.append(row); row = []; cell = ""
        } else {
            cell.append(c)
        }
    }
    guard let header = rows.first else { return [] }
    return rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0).map { ($0, $1) }) }
}

/// The columns of two sweep tables that depend on how a point was reached (its warm start, the run's
/// timing) rather than on the point: everything else must agree.
public let sweepRunColumns: Set<String> = ["wall_seconds", "outer_iterations", "max_abs_gap", "start_from", "psi_iterations",
                                           "calibration", "reason"]

/// The largest relative difference between the numeric cells of two tables with the same rows (status,
/// index, σε and γ must be equal), over the columns not in `sweepRunColumns`; nil when the rows differ
/// in anything but numbers.
public func sweepTableDifference(_ a: [[String: String]], _ b: [[String: String]]) -> Double? {
    guard a.count == b.count else { return nil }
    var worst = 0.0
    for (ra, rb) in zip(a, b) {
        for (key, va) in ra where !sweepRunColumns.contains(key) {
            guard let vb = rb[key] else { return nil }
            if va == vb { continue }
            guard let x = Double(va), let y = Double(vb) else { return nil }
            worst = max(worst, abs(x - y) / max(abs(x), abs(y), 1e-300))
        }
    }
    return worst
}
