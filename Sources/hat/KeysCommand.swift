import ArgumentParser
import Foundation
import HATConfig

/// `hat keys`: every configuration key with its type, default and help (from `ConfigurationKeys`).
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "List every configuration key with its type, default and valid range.",
        discussion: """
        Keys are grouped by TOML table; `--set` takes the dotted name shown (e.g. --set model.gamma=1.2).
        "required" keys must be given; a default applies when a key is left out.
        """)

    @Flag(help: "Print one Markdown table instead.")
    var markdown = false

    func run() throws {
        print(markdown ? ConfigurationKeys.markdownTable() : ConfigurationKeys.listing())
        if !Console.flushOutput() {
            Console.error("error: cannot write the keys to standard output (closed or full)")
            Foundation.exit(HatExit.io)
        }
    }
}
