# run_example.cmake - runs one docs example and fails unless its output equals the committed one.
# -DEXE=<program> -DEXPECTED=<file.out> [-DARGS=a|b] [-DEMULATOR=qemu|-L|dir] [-DUPDATE=1]
# The book shows <file.out> with \verbinclude, so a number quoted there cannot drift from
# what the program prints: change the program, and this test fails until the file follows.
string(REPLACE "|" ";" args "${ARGS}")
string(REPLACE "|" ";" emulator "${EMULATOR}")
execute_process(COMMAND ${emulator} ${EXE} ${args} OUTPUT_VARIABLE out ERROR_VARIABLE err
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} exited with ${rc}:\n${out}${err}")
endif()
if(UPDATE)
  file(WRITE ${EXPECTED} "${out}")
  message(STATUS "wrote ${EXPECTED}")
  return()
endif()
file(READ ${EXPECTED} want)
if(NOT out STREQUAL want)
  message(FATAL_ERROR "${EXE} printed\n${out}\nbut ${EXPECTED} (shown in the book) says\n${want}\n"
          "If the change is meant, rewrite the file (cmake --build <dir> --target "
          "docs_examples_update) and check the chapter's prose.")
endif()
