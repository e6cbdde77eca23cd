# Run by `cmake --install`: writes kvd.service and the service's kvd.toml for the prefix given
# at install time, then installs them (file(INSTALL) adds $DESTDIR).
#
# Inputs (set by systemd/CMakeLists.txt): KVD_SERVICE_TEMPLATE, KVD_EXAMPLE_CONFIG,
# KVD_STAGING_DIR, KVD_REL_BINDIR, KVD_REL_SYSCONFDIR, KVD_REL_DOCDIR.

# A directory under the prefix, as GNUInstallDirs spells it: absolute values stay.
function(kvd_full_dir out rel)
    if(IS_ABSOLUTE "${rel}")
        set(${out} "${rel}" PARENT_SCOPE)
    else()
        set(${out} "${prefix}/${rel}" PARENT_SCOPE)
    endif()
endfunction()

set(prefix "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/+$" "" prefix "${prefix}")
kvd_full_dir(KVD_BINDIR "${KVD_REL_BINDIR}")
kvd_full_dir(KVD_DOCDIR "${KVD_REL_DOCDIR}")
# As GNUInstallDirs does: configuration of a /usr (or /) install goes to /etc, not /usr/etc.
if(NOT IS_ABSOLUTE "${KVD_REL_SYSCONFDIR}" AND (prefix STREQUAL "/usr" OR prefix STREQUAL ""))
    set(KVD_SYSCONFDIR "/${KVD_REL_SYSCONFDIR}")
else()
    kvd_full_dir(KVD_SYSCONFDIR "${KVD_REL_SYSCONFDIR}")
endif()
set(KVD_HANDLERDIR "${prefix}/lib/kvd/handlers")

file(MAKE_DIRECTORY "${KVD_STAGING_DIR}")
configure_file("${KVD_SERVICE_TEMPLATE}" "${KVD_STAGING_DIR}/kvd.service" @ONLY)

# The example config runs its handlers relative to config/ and logs to the working directory;
# the service's copy points at the installed handlers, logs to /var/log/kvd (LogsDirectory=)
# and uses the socket kvd.socket creates, open to group kvd.
file(READ "${KVD_EXAMPLE_CONFIG}" config)
set(edits
    "command = \\[\"handlers/log-events\", \"[^\"]*\"\\]"
    "command = [\"${KVD_HANDLERDIR}/log-events\", \"/var/log/kvd/events.log\"]"
    "\n# socket = \"/run/kvd/kvd.sock\""
    "\nsocket = \"/run/kvd/kvd.sock\""
    "\n# socket_group = \"kvd\""
    "\nsocket_group = \"kvd\"")
list(LENGTH edits n)
math(EXPR last "${n} - 1")
foreach(i RANGE 0 ${last} 2)
    math(EXPR j "${i} + 1")
    list(GET edits ${i} pattern)
    list(GET edits ${j} replacement)
    if(NOT config MATCHES "${pattern}")
        message(FATAL_ERROR "${KVD_EXAMPLE_CONFIG} has no line matching '${pattern}'; "
                            "update systemd/install_service.cmake to match it")
    endif()
    string(REGEX REPLACE "${pattern}" "${replacement}" config "${config}")
endforeach()
# Every other example handler too: a relative "handlers/…" would mean <sysconfdir>/kvd/handlers.
string(REPLACE "command = [\"handlers/" "command = [\"${KVD_HANDLERDIR}/" config "${config}")
string(REPLACE "so this runs config/handlers/log-events;" "here the installed log-events;"
       config "${config}")
file(WRITE "${KVD_STAGING_DIR}/kvd.toml"
     "# Installed for kvd.service from config/kvd.toml (every key is explained there).\n"
     "${config}")

file(INSTALL "${KVD_STAGING_DIR}/kvd.service" DESTINATION "${prefix}/lib/systemd/system")

# An operator's edited config is kept: the shipped one then lands beside it as kvd.toml.new.
set(config_dir "${KVD_SYSCONFDIR}/kvd")
set(config_name kvd.toml)
file(READ "${KVD_STAGING_DIR}/kvd.toml" shipped)
if(EXISTS "$ENV{DESTDIR}${config_dir}/kvd.toml")
    file(READ "$ENV{DESTDIR}${config_dir}/kvd.toml" existing)
    if(NOT existing STREQUAL shipped)
        set(config_name kvd.toml.new)
        message(STATUS "Keeping the edited $ENV{DESTDIR}${config_dir}/kvd.toml; "
                       "the shipped config is installed as kvd.toml.new")
        file(WRITE "${KVD_STAGING_DIR}/${config_name}" "${shipped}")
    endif()
endif()
file(INSTALL "${KVD_STAGING_DIR}/${config_name}" DESTINATION "${config_dir}"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
