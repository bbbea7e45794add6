# man.cmake - the man pages, rendered from docs/man/*.scd by scdoc.
#
# Why scdoc and not pandoc from the markdown: the pages need the man
# layout (NAME, SYNOPSIS, one entry per command and key), which docs/*.md
# are not written in, so a converted page would read badly; scdoc is a
# 100 KB C program in Debian (pandoc pulls in ~200 MB of Haskell), and its
# sources are plain text a reviewer can diff.  The price is a second text
# to keep in step with the markdown: tests/integration/test_man_pages.py
# fails when a command, option, config key, Lua name or SDK name documented
# in docs/ (or printed by `tickler --help`) is missing from a page.
#
# Build: share/man/manN/PAGE in the build tree (what the test renders with
# man -l); install: PAGE.gz (gzip -9n, as Debian policy wants).
set(TK_MAN_PAGES tickler.1 tickler.ini.5 tickler-lua.7 tickler-plugin.7)
find_program(TK_SCDOC scdoc)
find_program(TK_GZIP gzip)
if(TK_SCDOC AND TK_GZIP)
  set(man_outputs)
  foreach(page ${TK_MAN_PAGES})
    string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
    set(src ${CMAKE_SOURCE_DIR}/docs/man/${page}.scd)
    set(dir ${CMAKE_BINARY_DIR}/share/man/man${section})
    set(out ${dir}/${page})
    add_custom_command(OUTPUT ${out} ${out}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
      COMMAND ${CMAKE_COMMAND} -DSCDOC=${TK_SCDOC} -DGZIP=${TK_GZIP} -DSRC=${src} -DOUT=${out}
              -P ${CMAKE_SOURCE_DIR}/cmake/render_man.cmake
      DEPENDS ${src} ${CMAKE_SOURCE_DIR}/cmake/render_man.cmake
      COMMENT "Rendering ${page} with scdoc")
    list(APPEND man_outputs ${out} ${out}.gz)
    install(FILES ${out}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
  add_custom_target(tk_man ALL DEPENDS ${man_outputs})
else()
  message(WARNING "scdoc (or gzip) not found: the man pages are not built "
                  "(apt-get install scdoc)")
endif()
