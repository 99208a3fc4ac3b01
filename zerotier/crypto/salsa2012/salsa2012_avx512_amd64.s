// Salsa20/12 for eight blocks at once with AVX-512VL on 256-bit registers,
// our own code. Same vertical layout as salsa2012_amd64.s, but with 32
// registers the whole state stays in Y0..Y15 (four independent
// quarter-rounds in flight, no spills) and VPROLD rotates in one
// instruction. The input words j live in the frame.

#include "textflag.h"

// ESTEP4: one step of four independent quarter-rounds: b ^= rotl(a+d, r).
#define ESTEP4(a0, d0, b0, a1, d1, b1, a2, d2, b2, a3, d3, b3, r) \
	VPADDD a0, d0, Y16; VPADDD a1, d1, Y17; VPADDD a2, d2, Y18; VPADDD a3, d3, Y19; \
	VPROLD $r, Y16, Y16; VPROLD $r, Y17, Y17; VPROLD $r, Y18, Y18; VPROLD $r, Y19, Y19; \
	VPXORD Y16, b0, b0; VPXORD Y17, b1, b1; VPXORD Y18, b2, b2; VPXORD Y19, b3, b3

// EROUND: four quarter-rounds (a, b, c, d) in parallel.
#define EROUND(a0, b0, c0, d0, a1, b1, c1, d1, a2, b2, c2, d2, a3, b3, c3, d3) \
	ESTEP4(a0, d0, b0, a1, d1, b1, a2, d2, b2, a3, d3, b3, 7); \
	ESTEP4(b0, a0, c0, b1, a1, c1, b2, a2, c2, b3, a3, c3, 9); \
	ESTEP4(c0, b0, d0, c1, b1, d1, c2, b2, d2, c3, b3, d3, 13); \
	ESTEP4(d0, c0, a0, d1, c1, a1, d2, c2, a2, d3, c3, a3, 18)

#define ESPLAT(i) VPBROADCASTD (i*4)(BX), Y0; VMOVDQU Y0, (i*32)(SP)

#define ELANE(k) \
	LEAQ k(R8), AX; MOVL AX, (256+k*4)(SP); SHRQ $32, AX; MOVL AX, (288+k*4)(SP)

// ET4: 4x4 transpose of 32-bit words inside each 128-bit half.
#define ET4(r0, r1, r2, r3) \
	VPUNPCKLDQ r1, r0, Y16; VPUNPCKHDQ r1, r0, Y17; VPUNPCKLDQ r3, r2, Y18; VPUNPCKHDQ r3, r2, Y19; \
	VPUNPCKLQDQ Y18, Y16, r0; VPUNPCKHQDQ Y18, Y16, r1; VPUNPCKLQDQ Y19, Y17, r2; VPUNPCKHQDQ Y19, Y17, r3

// EWR: 32 bytes of blocks k and k+4 at byte offset off: low halves of lo
// and hi for block k, high halves for block k+4.
#define EWR(lo, hi, k, off) \
	VSHUFI64X2 $0x00, hi, lo, Y20; VPXORD (k*64+off)(SI), Y20, Y20; VMOVDQU32 Y20, (k*64+off)(DI); \
	VSHUFI64X2 $0x03, hi, lo, Y21; VPXORD (k*64+256+off)(SI), Y21, Y21; VMOVDQU32 Y21, (k*64+256+off)(DI)

// EOUT: the eight words in r0..r7 (keystream words w..w+7, input already
// added) XORed into the eight blocks at byte offset off = 4w.
#define EOUT(r0, r1, r2, r3, r4, r5, r6, r7, off) \
	ET4(r0, r1, r2, r3); ET4(r4, r5, r6, r7); \
	EWR(r0, r4, 0, off); EWR(r1, r5, 1, off); EWR(r2, r6, 2, off); EWR(r3, r7, 3, off)

// func xorBlocks8AVX512(dst, src *byte, n uint64, st *state, counter uint64)
// Frame: j[16] at 0 (32 bytes each).
TEXT ·xorBlocks8AVX512(SB), 0, $512-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ st+24(FP), BX
	MOVQ counter+32(FP), R8
	TESTQ CX, CX
	JZ done
	ESPLAT(0); ESPLAT(1); ESPLAT(2); ESPLAT(3)
	ESPLAT(4); ESPLAT(5); ESPLAT(6); ESPLAT(7)
	ESPLAT(10); ESPLAT(11); ESPLAT(12); ESPLAT(13)
	ESPLAT(14); ESPLAT(15)

group:
	ELANE(0); ELANE(1); ELANE(2); ELANE(3)
	ELANE(4); ELANE(5); ELANE(6); ELANE(7)
	VMOVDQU 0(SP), Y0; VMOVDQU 32(SP), Y1; VMOVDQU 64(SP), Y2; VMOVDQU 96(SP), Y3
	VMOVDQU 128(SP), Y4; VMOVDQU 160(SP), Y5; VMOVDQU 192(SP), Y6; VMOVDQU 224(SP), Y7
	VMOVDQU 256(SP), Y8; VMOVDQU 288(SP), Y9; VMOVDQU 320(SP), Y10; VMOVDQU 352(SP), Y11
	VMOVDQU 384(SP), Y12; VMOVDQU 416(SP), Y13; VMOVDQU 448(SP), Y14; VMOVDQU 480(SP), Y15
	MOVQ $6, DX

doubleround:
	EROUND(Y0, Y4, Y8, Y12, Y5, Y9, Y13, Y1, Y10, Y14, Y2, Y6, Y15, Y3, Y7, Y11)
	EROUND(Y0, Y1, Y2, Y3, Y5, Y6, Y7, Y4, Y10, Y11, Y8, Y9, Y15, Y12, Y13, Y14)
	DECQ DX
	JNZ doubleround

	VPADDD 0(SP), Y0, Y0; VPADDD 32(SP), Y1, Y1; VPADDD 64(SP), Y2, Y2; VPADDD 96(SP), Y3, Y3
	VPADDD 128(SP), Y4, Y4; VPADDD 160(SP), Y5, Y5; VPADDD 192(SP), Y6, Y6; VPADDD 224(SP), Y7, Y7
	VPADDD 256(SP), Y8, Y8; VPADDD 288(SP), Y9, Y9; VPADDD 320(SP), Y10, Y10; VPADDD 352(SP), Y11, Y11
	VPADDD 384(SP), Y12, Y12; VPADDD 416(SP), Y13, Y13; VPADDD 448(SP), Y14, Y14; VPADDD 480(SP), Y15, Y15
	EOUT(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, 0)
	EOUT(Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15, 32)

	ADDQ $512, SI
	ADDQ $512, DI
	ADDQ $8, R8
	DECQ CX
	JNZ group
	VZEROUPPER

done:
	RET
