# package.cmake - the service files and the Debian package (cpack -G DEB).
#
# With TK_INSTALL_SYSTEM=ON (scripts/package.sh sets it, with prefix /usr)
# the install adds what a system service needs: the systemd unit, the
# sysusers.d and tmpfiles.d entries for the tickler user and its folders,
# a logrotate file and SYSCONFDIR/tickler/tickler.ini.  Off by default, so
# that `cmake --install` from a source tree (scripts/setup.sh, a temporary
# prefix in CI) never writes into /etc, /lib/systemd or /var, nor replaces
# an edited configuration.
#
# Why cpack and not a debian/ folder: the install rules are already the
# single description of what goes where (the same files land in a prefix,
# a DESTDIR and the .deb), and cpack needs nothing beyond cmake and dpkg;
# the maintainer scripts do by hand the little debhelper would generate
# (packaging/deb/postinst).  dpkg-shlibdeps computes Depends.
option(TK_INSTALL_SYSTEM "Install the systemd unit, sysusers.d, tmpfiles.d, logrotate and /etc config (packages)" OFF)

set(TK_STATE_DIR ${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/lib/tickler)
set(TK_LOG_DIR ${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/log/tickler)
set(TK_CONFIG_FILE ${CMAKE_INSTALL_FULL_SYSCONFDIR}/tickler/tickler.ini)
set(pkg_out ${CMAKE_BINARY_DIR}/packaging)
foreach(f tickler.service tickler.sysusers tickler.tmpfiles tickler.logrotate tickler.ini)
  set(in ${CMAKE_SOURCE_DIR}/packaging/${f})
  if(EXISTS ${in}.in)
    set(in ${in}.in)
  endif()
  configure_file(${in} ${pkg_out}/${f} @ONLY)
endforeach()

if(TK_INSTALL_SYSTEM)
  # systemd's own answer where it has one (Debian 12: /lib/systemd/system)
  set(TK_UNIT_DIR ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
  set(TK_SYSUSERS_DIR ${CMAKE_INSTALL_PREFIX}/lib/sysusers.d)
  set(TK_TMPFILES_DIR ${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d)
  pkg_check_modules(SYSTEMD_PC QUIET systemd)
  if(SYSTEMD_PC_FOUND AND CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    pkg_get_variable(TK_UNIT_DIR systemd systemdsystemunitdir)
    pkg_get_variable(TK_SYSUSERS_DIR systemd sysusersdir)
    pkg_get_variable(TK_TMPFILES_DIR systemd tmpfilesdir)
  endif()
  install(FILES ${pkg_out}/tickler.service DESTINATION ${TK_UNIT_DIR})
  install(FILES ${pkg_out}/tickler.sysusers DESTINATION ${TK_SYSUSERS_DIR} RENAME tickler.conf)
  install(FILES ${pkg_out}/tickler.tmpfiles DESTINATION ${TK_TMPFILES_DIR} RENAME tickler.conf)
  install(FILES ${pkg_out}/tickler.logrotate
          DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d RENAME tickler)
  install(FILES ${pkg_out}/tickler.ini DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/tickler)
  # the second folder of the plugin search path, for plugins added by hand
  install(DIRECTORY DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/tickler/plugins
          DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                WORLD_READ WORLD_EXECUTE)
  file(WRITE ${pkg_out}/conffiles
       "${TK_CONFIG_FILE}\n${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d/tickler\n")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tickler)
set(CPACK_PACKAGE_VENDOR "tickler")
set(CPACK_PACKAGE_CONTACT "tickler maintainers <tickler@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "reminder emails that keep an accounting firm's clients on track")
set(CPACK_PACKAGE_DESCRIPTION
    "tickler sends a firm's action items (organizers, proposals, invoices, chat\n\
threads, documents to sign or approve) to every contact who wants to be\n\
notified, reminds them on a schedule until they act, and keeps an audit\n\
trail. Lua pipelines automate recurring work; item types and transports\n\
are plugins (the SDK, tickler.pc and a CMake package are included).")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd | adduser")
# Libraries opened at first use rather than linked (libcurl, libical,
# libidn2 (core/mail/address.c and the smtp plugin), and with TK_LAZY_LIBS GMime, libmicrohttpd, libcrypto, libsodium) are not in
# the binary's NEEDED list, so dpkg-shlibdeps cannot see them: name their
# packages here, found from the files at configure time.
set(tk_dlopened ${CURL_LINK_LIBRARIES} ${ICAL_LINK_LIBRARIES} ${IDN2_LINK_LIBRARIES})
if(TK_LAZY_LIBS)
  list(APPEND tk_dlopened ${GMIME_LINK_LIBRARIES} ${MHD_LINK_LIBRARIES}
    ${LIBCRYPTO_LINK_LIBRARIES} ${SODIUM_LINK_LIBRARIES})
endif()
set(tk_dlopened_pkgs "")
foreach(f ${tk_dlopened})
  get_filename_component(real ${f} REALPATH)
  execute_process(COMMAND dpkg-query -S ${real} OUTPUT_VARIABLE owner ERROR_QUIET
    RESULT_VARIABLE rc)
  if(rc EQUAL 0 AND owner MATCHES "^([^:,]+)")
    list(APPEND tk_dlopened_pkgs ${CMAKE_MATCH_1})
  endif()
endforeach()
list(REMOVE_DUPLICATES tk_dlopened_pkgs)
foreach(p ${tk_dlopened_pkgs})
  if(NOT p MATCHES "-dev$")
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", ${p}")
  endif()
endforeach()
# DT_RELR (core/CMakeLists.txt, -z pack-relative-relocs) needs glibc 2.36's
# loader: the binary asks for the version GLIBC_ABI_DT_RELR, which has no
# symbols, so dpkg-shlibdeps does not see it.
if(TK_LD_PACK_RELATIVE_RELOCS)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libc6 (>= 2.36)")
endif()
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "logrotate")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql-client, bash-completion")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/deb/postinst ${CMAKE_SOURCE_DIR}/packaging/deb/prerm
    ${CMAKE_SOURCE_DIR}/packaging/deb/postrm)
if(TK_INSTALL_SYSTEM)
  list(APPEND CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${pkg_out}/conffiles)
endif()
include(CPack)
