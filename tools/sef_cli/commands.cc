// The table of sub-commands: the one place that says which commands exist, what they take
// and what they do. --help, the man page (sef-cli.1) and the bash completion (sef-cli.bash)
// are generated from it.
#include <vector>

#include "tools/sef_cli/cli.h"

namespace sef::cli {

namespace {

// Options several commands share.
const OptionSpec kDomain{"domain", 'q', "ID", "the QoS domain, by id"};
const OptionSpec kLabel{"label", 'l', "\"U64 U64\"",
                        "the QoS domain, by its label (root pointers 6 and 7)"};
const OptionSpec kVd{"vd", 'v', "ID", "the virtual device"};
const OptionSpec kForce{"force", 'f', nullptr, "do it although the target is in use or labelled"};
const OptionSpec kMaxOpen{"max-open", 0, "N", "at most N open zones (default: the device's)"};
const OptionSpec kMaxActive{"max-active", 0, "N", "at most N active zones (default: the device's)"};

}  // namespace

const std::vector<OptionSpec>& GlobalOptions() {
  static const std::vector<OptionSpec> options = {
      {"unit", 'u', "UNIT",
       "the SEF unit: a number (sef/units: the units file, the host's SEF controllers, 0 = the "
       "embedded default unit) or a HAL spec, model:CONFIG.json[:BACKING] or /dev/nvmeN "
       "(default 0)"},
      {"json", 'j', nullptr, "print JSON (for scripts) instead of text"},
      {"help", 'h', nullptr, "print this command's help"},
  };
  return options;
}

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> commands = {
      {"list",
       "sef-unit",
       "list the SEF units the unit numbers name (0 to 15) and --unit",
       {},
       UnitList},
      {"info", "sef-unit", "the unit's identity, capabilities, geometry and limits", {}, UnitInfo},
      {"list",
       "virtual-device",
       "the virtual devices with their capacity and super blocks",
       {},
       VdList},
      {"info",
       "virtual-device",
       "one virtual device: dies, format, capacity, usage, domains",
       {kVd},
       VdInfo},
      {"create",
       "virtual-device",
       "create virtual devices (the unit must have none): from a die list, by channels x banks "
       "tiles, or (default) one over every die",
       {{"vd", 'v', "ID", "the (first) virtual device's id (default 1)"},
        {"dies", 0, "LIST", "the dies, comma separated (die = channel + bank x channels)"},
        {"channels", 0, "N", "tiles of N channels ..."},
        {"banks", 0, "N", "... by N banks (with --channels)"},
        {"count", 0, "N", "N tiles, channels first, ids from --vd up (default 1)"},
        {"dies-per-sb", 0, "N", "dies per super block (default: all of the VD's)"},
        {"pslc-sbs", 0, "N", "super blocks kept as pSLC"}},
       VdCreate},
      {"delete",
       "virtual-device",
       "delete every virtual device (they must hold no QoS domain)",
       {},
       VdDelete},
      {"draw",
       "virtual-device",
       "the die map: which virtual device each die is in, by bank and "
       "channel (. = none)",
       {},
       VdDraw},
      {"list", "qos-domain", "the QoS domains with capacity, use, kind and label", {}, DomainList},
      {"info",
       "qos-domain",
       "one QoS domain: capacities, limits, weights, root pointers",
       {kDomain, kLabel},
       DomainInfo},
      {"create",
       "qos-domain",
       "create a QoS domain",
       {{"vd", 'v', "ID", "its virtual device (default: the unit's only one)"},
        {"capacity", 'c', "CAP",
         "ADUs (4096), bytes (64M, 1GiB, 8192B) or percent of the VD (50%) (default: what the "
         "VD has not given to domains)"},
        {"quota", 0, "CAP", "the quota (default: the capacity)"},
        {"pslc-capacity", 0, "CAP", "pSLC capacity (default 0)"},
        {"pslc-quota", 0, "CAP", "pSLC quota (default: the pSLC capacity)"},
        {"placement-ids", 0, "N", "placement ids (default 1)"},
        {"max-open-sbs", 0, "N", "open super blocks at most (default 1)"},
        {"program-weight", 0, "N", "program weight (default 0: the device's)"},
        {"erase-weight", 0, "N", "erase weight (default 0: the device's)"},
        {"read-fifo", 0, "ID", "default read FIFO (default 0: the VD's)"},
        {"deadline", 0, "NAME", "read deadline: typical, long, heroic, fastest (default typical)"},
        {"defect-strategy", 0, "NAME",
         "perfect, packed or fragmented, as the unit offers (default perfect)"},
        {"label", 'l', "\"U64 U64\"", "its label (root pointers 6 and 7), unique on the unit"}},
       DomainCreate},
      {"delete",
       "qos-domain",
       "delete a QoS domain and the data in it",
       {kDomain, kLabel},
       DomainDelete},
      {"format",
       "qos-domain",
       "release every super block and clear every root pointer (the label too, unless "
       "--relabel); refused while super blocks are open (a mounted FTL or ZNS, a writer) unless "
       "--force",
       {kDomain, kLabel, {"relabel", 0, nullptr, "keep the label"}, kForce},
       DomainFormat},
      {"resize",
       "qos-domain",
       "set a QoS domain's capacity and quota (normal, or pSLC with --pslc)",
       {kDomain,
        kLabel,
        {"capacity", 'c', "CAP", "the new capacity (as for create)"},
        {"quota", 0, "CAP", "the new quota (default: the capacity; never below it)"},
        {"pslc", 0, nullptr, "resize the pSLC capacity"}},
       DomainResize},
      {"label",
       "qos-domain",
       "set a QoS domain's label (root pointers 6 and 7); --force replaces a label",
       {{"domain", 'q', "ID", "the QoS domain, by id (required)"},
        {"label", 'l', "\"U64 U64\"", "the new label (required; \"0 0\" clears it)"},
        kForce},
       DomainLabel},
      {"backup",
       "qos-domain",
       "copy every super block of a QoS domain (all closed) to a file each, DIR/PREFIXsbID.sefbk",
       {kDomain,
        kLabel,
        {"path", 'p', "DIR", "the directory (required; created if missing)"},
        {"prefix", 0, "PREFIX", "the files' prefix (default domainID-)"}},
       DomainBackup},
      {"restore",
       "qos-domain",
       "write the backup files of DIR into an empty QoS domain, each into its old super block "
       "when that is free (flash addresses kept), else into one the device chooses",
       {kDomain,
        kLabel,
        {"path", 'p', "DIR", "the directory (required)"},
        {"prefix", 0, "PREFIX", "only the files with this prefix (default: every *.sefbk)"}},
       DomainRestore},
      {"configure",
       "zns",
       "format an unconfigured QoS domain as a zoned namespace (zone = super block)",
       {kDomain,
        kLabel,
        {"zone-size", 0, "BLOCKS", "a power of two (default: natural)"},
        kMaxOpen,
        kMaxActive,
        {"reformat", 0, nullptr, "format a zoned namespace again (its data is released)"}},
       ZnsConfigure},
      {"info",
       "zns",
       "a zoned namespace's geometry and its zones by state",
       {kDomain, kLabel, kMaxOpen, kMaxActive},
       ZnsInfo},
      {"report",
       "zns",
       "the zones as blkzone report prints them (512-byte sectors; --json: 4096-byte blocks)",
       {kDomain,
        kLabel,
        {"start", 0, "BLOCK", "from the zone holding this block (default 0)"},
        {"count", 0, "N", "at most N zones"}},
       ZnsReport},
      {"configure",
       "ftl",
       "format a QoS domain as a block FTL (sef/ftl) and print its capacity; the domain must be "
       "unconfigured, or a block FTL domain with --force",
       {kDomain,
        kLabel,
        {"overprovisioning", 0, "PERCENT",
         "spare flash as a percentage of the exported capacity (default 7; 0.5 to 400)"},
        {"checkpoint-interval", 0, "ADUS",
         "flash ADUs written between two checkpoints (default 0: automatic)"},
        {"placement-ids", 0, "LIST",
         "placement ids user writes go by, hottest first (e.g. 1,0; default: none, the FTL "
         "erases every super block it writes); checked against the domain, kept by every mount"},
        {"force", 'f', nullptr, "format a block FTL domain again (its data is discarded)"}},
       FtlConfigure},
      {"info",
       "ftl",
       "mount a block FTL domain (recovering it if needed), print its capacity, "
       "over-provisioning and statistics (WAF, super blocks), unmount it",
       {kDomain, kLabel},
       FtlInfo},
      {"check",
       "ftl",
       "check a block FTL domain's consistency without writing to it: checkpoint CRCs, super "
       "block accounting, each mapped block's ADU names it; exit 1 when a problem is found",
       {kDomain,
        kLabel,
        {"repair", 0, nullptr,
         "recover and write a fresh checkpoint, trim blocks mapped to a wrong ADU, check again"}},
       FtlCheck},
  };
  return commands;
}

}  // namespace sef::cli
