# render_man.cmake - SRC (scdoc) -> OUT, and OUT.gz (gzip -9n).  Run with
# cmake -DSCDOC=... -DGZIP=... -DSRC=... -DOUT=... -P render_man.cmake
execute_process(COMMAND ${SCDOC} INPUT_FILE ${SRC} OUTPUT_FILE ${OUT}.tmp
                RESULT_VARIABLE rc ERROR_VARIABLE msg)
if(NOT rc EQUAL 0)
  file(REMOVE ${OUT}.tmp)
  message(FATAL_ERROR "scdoc ${SRC}: ${msg}")
endif()
file(RENAME ${OUT}.tmp ${OUT})
execute_process(COMMAND ${GZIP} -9n -c ${OUT} OUTPUT_FILE ${OUT}.gz RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip ${OUT} failed")
endif()
