# bash completion for tickler(1)                              -*- shell-script -*-
#
# Everything is asked of the binary being completed, so this file never
# falls behind it:
#   commands, sub-commands     `tickler --help` (the command table)
#   options and their values   `tickler COMMAND --help` (the usage line:
#                              "[--reminders on|off]" offers on and off)
#   item types, fields, events, bulk commands
#                              `tickler --json plugins` (with the -c given
#                              on the line), and `tickler --json show ITEM`
#                              for the events of that item's type
# --help never reads the configuration; `plugins` reads it and loads the
# plugins but never opens the store.  Installed into bash-completion's
# folder (share/bash-completion/completions/tickler).

# The plugins as lines "item NAME", "event TYPE NAME", "field TYPE NAME",
# "bulk TYPE COMMAND", from the JSON on stdin.  A small JSON tokenizer in
# POSIX awk (mawk has no JSON and no gawk extensions): keys are the strings
# followed by ':', depth 2 is a plugin, depth 4 an entry of one of its
# arrays.
_tickler_plugin_facts()
{
    awk '
    { s = s $0 "\n" }
    END {
        n = length(s); d = 0; i = 1
        while (i <= n) {
            c = substr(s, i, 1)
            if (c == "{" || c == "[") { d++; i++; continue }
            if (c == "}" || c == "]") { d--; i++; continue }
            if (c != "\"") { i++; continue }
            v = ""; i++
            while (i <= n) {
                c = substr(s, i, 1)
                if (c == "\\") { v = v substr(s, i + 1, 1); i += 2; continue }
                if (c == "\"") break
                v = v c; i++
            }
            i++
            j = i
            while (j <= n && substr(s, j, 1) ~ /[ \t\n\r]/) j++
            if (substr(s, j, 1) == ":") { key[d] = v; continue }
            if (d == 2 && key[2] == "name") plugin = v
            if (d == 2 && key[2] == "kind" && v == "item") print "item " plugin
            if (d == 4 && key[2] == "events" && key[4] == "name") print "event " plugin " " v
            if (d == 4 && key[2] == "fields" && key[4] == "name") print "field " plugin " " v
            if (d == 4 && key[2] == "bulk" && key[4] == "command") print "bulk " plugin " " v
        }
    }'
}

# Run the binary being completed with the -c FILE of the command line.
_tickler_run()
{
    "${_tickler_bin}" "${_tickler_cfg[@]}" "$@" 2>/dev/null
}

_tickler_facts()
{
    _tickler_run --json plugins | _tickler_plugin_facts
}

# The words that name each command of the table, one command per line:
# "send", "account add", ...
_tickler_command_words()
{
    _tickler_run --help | awk '
        /^commands:/ { on = 1; next }
        on && /^  [a-z]/ {
            w = ""; n = 0
            for (f = 1; f <= NF && n < 2; f++) {
                if ($f !~ /^[a-z][a-z-]*$/) break
                w = w (n ? " " : "") $f; n++
            }
            if (w != "") print w
        }'
}

# The usage line of COMMAND [SUB], without "tickler" and the global options.
_tickler_usage()
{
    _tickler_run "$@" --help | sed -n 's/^usage: tickler \(\[[^]]*\] \)*//p' | head -n 1
}

_tickler()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local _tickler_bin=${COMP_WORDS[0]} _tickler_cfg=()
    local i=1 cmd="" sub="" nwords=1
    COMPREPLY=()

    # global options before the command
    while ((i < COMP_CWORD)); do
        case ${COMP_WORDS[i]} in
        -c | --config)
            _tickler_cfg=(-c "${COMP_WORDS[i + 1]}")
            ((i += 2))
            ;;
        --config=*)
            _tickler_cfg=(-c "${COMP_WORDS[i]#--config=}")
            ((i++))
            ;;
        --now) ((i += 2)) ;;
        --now=* | --json | -V | --version | -h | --help) ((i++)) ;;
        *) break ;;
        esac
    done

    if ((i >= COMP_CWORD)); then
        case $prev in
        -c | --config)
            COMPREPLY=($(compgen -f -- "$cur"))
            return
            ;;
        --now) return ;;
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "-c --config --now --json -V --version -h --help" -- "$cur"))
        else
            local cmds
            cmds="$(_tickler_command_words | cut -d' ' -f1 | sort -u) help"
            cmds="$cmds $(_tickler_facts | awk '$1 == "bulk" { print $3 }')"
            COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
        fi
        return
    fi

    cmd=${COMP_WORDS[i]}
    if [[ $cmd == help ]]; then
        ((COMP_CWORD == i + 1)) &&
            COMPREPLY=($(compgen -W "$(_tickler_command_words | cut -d' ' -f1 | sort -u)" -- "$cur"))
        return
    fi
    local subs
    subs=$(_tickler_command_words | awk -v c="$cmd" '$1 == c && NF == 2 { print $2 }')
    if [[ -n $subs ]]; then
        if ((COMP_CWORD == i + 1)) && [[ $cur != -* ]]; then
            COMPREPLY=($(compgen -W "$subs" -- "$cur"))
            return
        fi
        # "outbox --failed": the family's bare command, if it has one
        if ((COMP_CWORD > i + 1)) && grep -qx -- "${COMP_WORDS[i + 1]}" <<<"$subs"; then
            sub=${COMP_WORDS[i + 1]}
            nwords=2
        fi
    fi

    local usage
    usage=$(_tickler_usage "$cmd" ${sub:+"$sub"})
    if [[ -z $usage ]]; then
        [[ $cur == -* ]] && COMPREPLY=($(compgen -W "--help" -- "$cur"))
        return
    fi
    local -a tokens positional=()
    local -A takes=()
    read -r -a tokens <<<"$usage"
    tokens=("${tokens[@]:nwords}")
    # Options that take a value ("--account A", "[--reminders on|off]",
    # "[--set F=V]...") and the positional placeholders outside [...].
    local n=0 t bare group=0
    while ((n < ${#tokens[@]})); do
        t=${tokens[n]}
        bare=${t#[}
        bare=${bare%%]*}
        if [[ $bare == --* ]]; then
            if [[ $t != *"]"* ]] && ((n + 1 < ${#tokens[@]})) &&
                [[ ${tokens[n + 1]} != [-[]* ]]; then
                takes[$bare]=${tokens[n + 1]%%]*}
                [[ ${tokens[n + 1]} == *"]"* ]] && group=0
                ((n += 2))
                continue
            fi
            [[ $t == *"]"* ]] && group=0
            ((n++))
            continue
        fi
        if [[ $t == "["* ]]; then
            [[ $t != *"]"* ]] && group=1
        elif ((group)); then
            [[ $t == *"]"* ]] && group=0
        else
            positional+=("$t")
        fi
        ((n++))
    done

    # the value of an option
    if [[ $prev == --* && -n ${takes[$prev]+set} ]]; then
        local val=${takes[$prev]}
        if [[ $prev == --set ]]; then
            local type=${COMP_WORDS[i + nwords]}
            COMPREPLY=($(compgen -S = -W "$(_tickler_facts | awk -v t="$type" '$1 == "field" && $2 == t { print $3 }')" -- "$cur"))
            compopt -o nospace 2>/dev/null
        elif [[ $prev == --type ]]; then
            COMPREPLY=($(compgen -W "$(_tickler_facts | awk '$1 == "item" { print $2 }')" -- "$cur"))
        elif [[ $prev == --events ]]; then
            # webhook add: a comma-separated list of the outbound event
            # types (engine/webhooks.h TK_WEBHOOK_EVENTS); the name after
            # the last comma is completed
            local before=""
            [[ $cur == *,* ]] && before=${cur%,*},
            COMPREPLY=($(compgen -P "$before" -W "item.sent item.completed reminder.sent delivery.dead" -- "${cur##*,}"))
            compopt -o nospace 2>/dev/null
        elif [[ $val == *"|"* ]]; then
            COMPREPLY=($(compgen -W "${val//|/ }" -- "$cur"))
        fi
        return
    fi

    if [[ $cur == -* ]]; then
        local opts
        opts="$(grep -o -- '--[a-z][a-z-]*' <<<"$usage" | sort -u) --help"
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi

    # which positional placeholder is being typed?
    local pos=0 k w
    for ((k = i + nwords; k < COMP_CWORD; k++)); do
        w=${COMP_WORDS[k]}
        if [[ $w == --* ]]; then
            [[ $w != *=* && -n ${takes[$w]+set} ]] && ((k++))
            continue
        fi
        ((pos++))
    done
    local want=${positional[pos]}
    case $want in
    TYPE)
        COMPREPLY=($(compgen -W "$(_tickler_facts | awk '$1 == "item" { print $2 }')" -- "$cur"))
        ;;
    EVENT)
        # the events of that item's type, else of every type
        local item=${COMP_WORDS[COMP_CWORD - 1]} type
        type=$(_tickler_run --json show "$item" | sed -n 's/^  "type": "\([a-z0-9_-]*\)",*$/\1/p')
        COMPREPLY=($(compgen -W "$(_tickler_facts | awk -v t="$type" '$1 == "event" && (t == "" || $2 == t) { print $3 }' | sort -u)" -- "$cur"))
        ;;
    FILE)
        COMPREPLY=($(compgen -f -- "$cur"))
        ;;
    *"|"*)
        # "on|off", "ID|--all-failed": the literal alternatives only
        COMPREPLY=($(compgen -W "$(tr '|' '\n' <<<"$want" | grep -v '^[A-Z]')" -- "$cur"))
        ;;
    esac
}

complete -F _tickler tickler
